//! berth's dashboard: `berth ui` and `berth up --ui`. Server-rendered pages
//! (maud) of one ecosystem's environment — the dependency graph with live
//! states, the services, their logs, deployments with their analysis, history
//! with diffs, DORA, the check report and backups — with a little plain
//! JavaScript for what changes live (server-sent events) and embedded assets.
//! What is live comes from the running berth's control API on its Unix socket,
//! which the dashboard also serves on its own port under `/api/v1/`; history,
//! logs and backups are read from `.berth/`. Reading is open on loopback;
//! anything that changes state needs the dashboard's token, comes from the
//! dashboard's own origin, and names the dashboard's own host (so neither
//! another site nor a rebound DNS name can act through a browser).

mod access;
mod assets;
mod chart;
mod live;
mod pages;
mod project;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use access::{Access, Token};
pub use project::Project;

/// Every page, asset and API route, behind the access checks.
pub fn router(project: Project, access: Access) -> Router {
    let project = Arc::new(project);
    Router::new()
        .merge(pages::routes())
        .merge(live::routes())
        .merge(assets::routes())
        .with_state(project)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            access::guard,
        ))
}

/// Serves the dashboard on `listener`; it stops when the future is dropped
/// (open event streams never end by themselves, so there is no graceful wait).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

/// A refusal or failure, as the control API words one: `{"reply": "error", "message": …}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (status, axum::Json(berth_local::Reply::Error { message })).into_response()
}
