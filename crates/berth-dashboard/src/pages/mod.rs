//! The pages, one file each, all in the same frame.

mod backups;
mod check;
mod deployments;
mod dora;
mod frame;
mod logs;
mod overview;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::project::Project;

pub fn routes() -> Router<Arc<Project>> {
    Router::new()
        .route("/", get(overview::page))
        .route("/logs", get(logs::page))
        .route("/deployments", get(deployments::list))
        .route("/deployments/{number}", get(deployments::one))
        .route("/diff", get(deployments::diff))
        .route("/dora", get(dora::page))
        .route("/check", get(check::page))
        .route("/backups", get(backups::page))
}
