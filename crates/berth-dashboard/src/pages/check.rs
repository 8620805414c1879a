//! The check report: each service against the ecosystem's standards, and the
//! compliance score.

use std::sync::Arc;

use axum::extract::State;
use berth_core::check::{self, Status};
use maud::{Markup, html};

use super::frame::frame;
use crate::project::Project;

pub async fn page(State(project): State<Arc<Project>>) -> Markup {
    let report = check::check(&project.ecosystem);
    let body = html! {
        h2 { (report.score()) }
        table {
            thead { tr { th { "service" } th { "rule" } th { "level" } th { "result" } th { "how to meet it" } } }
            tbody {
                @for service in &report.services {
                    @for (i, finding) in service.findings.iter().enumerate() {
                        tr {
                            td { @if i == 0 { strong { (service.name) } } }
                            td { code { (finding.rule.id()) } }
                            td { (format!("{:?}", finding.level).to_lowercase()) }
                            @match &finding.status {
                                Status::Pass => td.state.s-pass { "pass" },
                                Status::Fail { reason } => td.state.s-fail { "fail: " (reason) },
                                Status::Waived { reason, waiver } => td.state.s-waived { "waived (" (waiver) "): " (reason) },
                            }
                            td.muted { (finding.rule.hint()) }
                        }
                    }
                }
            }
        }
    };
    frame(&project, "/check", "Check", false, body)
}
