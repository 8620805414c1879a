//! A chosen set of services' logs, streamed as they are written, with a search
//! that filters what is shown.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use maud::{Markup, html};

use super::frame::frame;
use crate::live::chosen_services;
use crate::project::Project;

pub async fn page(State(project): State<Arc<Project>>, RawQuery(query): RawQuery) -> Markup {
    let chosen = chosen_services(query.as_deref());
    let body = html! {
        form.controls method="get" action="/logs" {
            @for name in project.ecosystem.services.keys() {
                label {
                    input type="checkbox" name="service" value=(name) checked[chosen.contains(name)];
                    " " (name)
                }
            }
            button type="submit" { "show" }
            input #search type="search" placeholder="search the lines shown" autocomplete="off";
        }
        p.muted {
            @if chosen.is_empty() { "Every service's output, as it is written." }
            @else { "The output of " (chosen.join(", ")) ", as it is written." }
        }
        pre #log .log {}
    };
    frame(&project, "/logs", "Logs", false, body)
}
