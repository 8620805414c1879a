//! Each data store's backups and its last restore drill, against its targets.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use berth_local::backup;
use maud::{Markup, html};

use super::frame::{bytes, frame};
use crate::project::Project;

pub async fn page(State(project): State<Arc<Project>>) -> Markup {
    let ecosystem = &project.ecosystem;
    let stores: Vec<_> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| service.kind.is_data() && !ecosystem.is_external(name))
        .collect();
    let body = html! {
        @if stores.is_empty() { p.muted { "This environment runs no data store." } }
        @for (name, service) in stores {
            @let folder = backup::folder(&project.state_dir, project.environment(), name);
            @let backups = backup::backups(&folder);
            @let drills = backup::drills(&folder);
            @let targets = service.backup.as_ref();
            h2 { (name) " " span.muted { (service.kind.to_string()) } }
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
    };
    frame(&project, "/backups", "Backups", false, body)
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
