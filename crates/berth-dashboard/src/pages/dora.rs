//! DORA: the four metrics over the last 30 days, and deployments and the change
//! failure rate day by day over the last 14.

use std::sync::Arc;

use axum::extract::State;
use berth_engine::dora::{self, Metric};
use berth_engine::history::now;
use maud::{Markup, html};

use super::frame::{frame, time};
use crate::chart::{self, Bar};
use crate::project::Project;

const DAY: i64 = 86_400_000;
const DAYS_CHARTED: i64 = 14;

pub async fn page(State(project): State<Arc<Project>>) -> Markup {
    let records = project.records().unwrap_or_default();
    let until = now();
    let report = dora::dora(&records, until - 30 * DAY, until);
    let today = until - until % DAY;
    let days: Vec<(String, dora::Dora)> = (0..DAYS_CHARTED)
        .rev()
        .map(|back| {
            let start = today - back * DAY;
            (
                time(start)[5..10].to_owned(),
                dora::dora(&records, start, start + DAY),
            )
        })
        .collect();
    let bars: Vec<Bar> = days
        .iter()
        .map(|(label, day)| {
            let failed =
                day.change_failure_rate.value.unwrap_or(0.0) / 100.0 * day.deployments as f64;
            Bar {
                label: label.clone(),
                parts: vec![
                    (day.deployments as f64 - failed, "#1a7f37"),
                    (failed, "#cf222e"),
                ],
            }
        })
        .collect();
    let failure_rate: Vec<(String, Option<f64>)> = days
        .iter()
        .map(|(label, day)| (label.clone(), day.change_failure_rate.value))
        .collect();
    let body = html! {
        p.muted { (report.deployments) " deployments of " (project.environment()) " in the last 30 days; bands from the " (report.report) "." }
        div.cards {
            (card("deployment frequency", &report.frequency))
            (card("lead time for changes", &report.lead_time))
            (card("change failure rate", &report.change_failure_rate))
            (card("failed deployment recovery time", &report.recovery_time))
        }
        h2 { "Deployments a day" }
        p.muted { "green: succeeded; red: failed, rolled back or aborted" }
        (chart::bars("deployments a day", &bars))
        h2 { "Change failure rate a day (%)" }
        (chart::line("change failure rate", &failure_rate, "#cf222e"))
    };
    frame(&project, "/dora", "DORA", false, body)
}

fn card(name: &str, metric: &Metric) -> Markup {
    html! {
        div.card {
            div.muted { (name) }
            div.value {
                @match metric.value {
                    Some(value) => { (format!("{value:.2}")) " " span.muted { (metric.unit) } },
                    None => span.muted { "no data" },
                }
            }
            div { (metric.band.unwrap_or("—")) }
            div.muted { (metric.basis) }
        }
    }
}
