//! Each data store's backups and its last restore drill, against its targets,
//! read from where the environment keeps them (an object store is asked off
//! the server's threads).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use berth_local::backup;
use maud::{Markup, html};

use super::frame::{bytes, frame};
use crate::project::Project;

/// A store's backups and drills, oldest first, or why they cannot be read.
type Shelved = Result<(Vec<backup::Manifest>, Vec<backup::Drill>), backup::BackupError>;

pub async fn page(State(project): State<Arc<Project>>) -> Markup {
    let ecosystem = &project.ecosystem;
    let stores: Vec<_> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| service.kind.is_data() && !ecosystem.is_external(name))
        .collect();
    let names: Vec<String> = stores.iter().map(|(name, _)| (*name).clone()).collect();
    let reading = Arc::clone(&project);
    let shelved = tokio::task::spawn_blocking(move || shelved(&reading, &names))
        .await
        .expect("reading backups does not panic");
    let body = html! {
        @if stores.is_empty() { p.muted { "This environment runs no data store." } }
        @if let Some(store) = &ecosystem.environment.backups {
            p { "Kept in " code { (store.to.to_string()) } "." }
        }
        @for ((name, service), found) in stores.into_iter().zip(shelved) {
            @let targets = service.backup.as_ref();
            h2 { (name) " " span.muted { (service.kind.to_string()) } }
            @match found {
                Err(e) => p.state.s-fail { (e.message) " — " (e.help) },
                Ok((backups, drills)) => (shelf(&project, name, targets, &backups, &drills)),
            }
        }
    };
    frame(&project, "/backups", "Backups", false, body)
}

fn shelved(project: &Project, names: &[String]) -> Vec<Shelved> {
    let shelves = backup::Shelves::open(
        &project.state_dir,
        project.environment(),
        project.ecosystem.environment.backups.as_ref(),
    );
    names
        .iter()
        .map(|name| {
            let shelf = shelves.of(name)?;
            Ok((shelf.backups()?, shelf.drills()?))
        })
        .collect()
}

/// One store's targets, last drill and backups.
fn shelf(
    project: &Project,
    name: &str,
    targets: Option<&berth_core::model::Backup>,
    backups: &[backup::Manifest],
    drills: &[backup::Drill],
) -> Markup {
    html! {
            @if let Some(targets) = targets {
                p {
                    "Targets: RTO " (targets.rto.map_or("none".to_owned(), |d| d.to_string()))
                    ", RPO " (targets.rpo.map_or("none".to_owned(), |d| d.to_string()))
                    "; keeps " (targets.retention)
                    @if let Some(days) = targets.keep_for { " for at most " (days.to_string()) }
                    "."
                }
            }
            p {
                "Last drill: "
                @match drills.last() {
                    None => span.muted { "never — " code { "berth backup drill -e " (project.environment()) " " (name) } },
                    Some(drill) => {
                        (drill.at) " of " (drill.backup) ": RTO " (seconds(drill.rto_seconds))
                        ", RPO " (seconds(drill.rpo_seconds))
                        @match within(drill, targets) {
                            Some(true) => span.state.s-pass { " — within the targets" },
                            Some(false) => span.state.s-fail { " — beyond a target" },
                            None => {},
                        }
                    },
                }
            }
            @if backups.is_empty() {
                p.muted { "No backup yet: " code { "berth backup -e " (project.environment()) " " (name) } }
            } @else {
                table {
                    thead { tr { th { "backup" } th { "taken at" } th { "size" } th { "files" } th { "revision" } } }
                    tbody {
                        @for m in backups.iter().rev() {
                            tr {
                                td { (m.id) } td { (m.taken_at) } td.num { (bytes(m.bytes())) }
                                td.num { (m.files.len()) } td { (m.revision.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
    }
}

/// Whether a drill met the targets there are; `None` without any.
fn within(drill: &backup::Drill, targets: Option<&berth_core::model::Backup>) -> Option<bool> {
    let targets = targets?;
    let met = |target: Option<berth_core::model::Duration>, achieved: f64| {
        target.map(|t| achieved <= t.0.as_secs_f64())
    };
    match (
        met(targets.rto, drill.rto_seconds),
        met(targets.rpo, drill.rpo_seconds),
    ) {
        (None, None) => None,
        (rto, rpo) => Some(rto.unwrap_or(true) && rpo.unwrap_or(true)),
    }
}

fn seconds(s: f64) -> String {
    humantime::format_duration(Duration::from_secs(s.round() as u64)).to_string()
}
