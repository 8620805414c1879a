//! Deployments: the one under way with its traffic split and analysis, the
//! history with each deployment's timeline and evidence, and the settings
//! that differ between any two of them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use berth_engine::history::{Entry, Outcome, Record};
use berth_local::RolloutReport;
use maud::{Markup, html};
use serde::Deserialize;

use super::frame::{frame, state_class, time};
use crate::chart;
use crate::project::Project;

pub async fn list(State(project): State<Arc<Project>>) -> Markup {
    let live = project.live().await;
    let records = project.records();
    let running = records
        .as_ref()
        .ok()
        .and_then(|r| r.iter().rev().find(|r| r.outcome == Outcome::Running));
    let timeline = running
        .map(|r| project.timeline(r.number).unwrap_or_default())
        .unwrap_or_default();
    let body = html! {
        h2 { "Under way" }
        div #rollouts {
            @match &live {
                None => "no berth is running here",
                Some(live) if live.rollouts.is_empty() => "no deployment is splitting traffic now",
                Some(live) => @for rollout in &live.rollouts { (weights(rollout)) },
            }
        }
        // The script fetches the page again while a deployment runs, and puts
        // these two parts in place: its steps and analysis as they come.
        div #running data-deploying=[running.map(|r| r.number)] {
            @if let Some(record) = running {
                p {
                    "Deployment " (record.number) " of " (record.changed.join(", ")) ", begun " (time(record.started)) ". "
                    button data-action="/api/v1/promote" { "promote" } " "
                    button data-action="/api/v1/abort" data-confirm="Abort this deployment and restore the stable revision?" { "abort" }
                }
                (analysis(&timeline))
                (timeline_list(&timeline))
            }
        }
        h2 { "History" }
        div #history {
            @match &records {
                Err(e) => p.state.s-failed { "the history cannot be read: " (e) },
                Ok(records) if records.is_empty() => p.muted { "No deployment yet." },
                Ok(records) => {
                    (diff_form(records))
                    (history_table(records))
                },
            }
        }
    };
    frame(&project, "/deployments", "Deployments", true, body)
}

fn weights(rollout: &RolloutReport) -> Markup {
    html! {
        h3 { (rollout.service) }
        div.weights data-rollout=(rollout.service) {
            @for (revision, weight) in &rollout.weights {
                span style=(format!("width:{}%", (*weight).max(4))) { (revision) " " (weight) "%" }
            }
        }
        @if let Some(analysis) = &rollout.analysis { p.evidence { (analysis.what) } }
    }
}

/// The analyses' error rate and p95 latency, step by step.
fn analysis(timeline: &[Entry]) -> Markup {
    let measured: Vec<(String, &berth_engine::analysis::Measurement)> = timeline
        .iter()
        .filter_map(|e| {
            let m = e.evidence.as_ref()?.measurement.as_ref()?;
            Some((time(e.at)[11..19].to_owned(), m))
        })
        .collect();
    if measured.is_empty() {
        return html! {};
    }
    let errors: Vec<(String, Option<f64>)> = measured
        .iter()
        .map(|(at, m)| (at.clone(), m.error_rate.map(|r| r * 100.0)))
        .collect();
    let p95: Vec<(String, Option<f64>)> = measured
        .iter()
        .map(|(at, m)| (at.clone(), m.p95_ms.map(|p| p as f64)))
        .collect();
    html! {
        div.cards {
            div.card { div.muted { "error rate (%) at each analysis" } (chart::line("error rate", &errors, "#cf222e")) }
            div.card { div.muted { "p95 latency (ms) at each analysis" } (chart::line("p95 latency", &p95, "#0969da")) }
        }
    }
}

fn timeline_list(timeline: &[Entry]) -> Markup {
    html! {
        ol.timeline {
            @for entry in timeline {
                li {
                    span.muted { (time(entry.at)) } " "
                    @if let Some(service) = &entry.service { strong { (service) } ": " }
                    (entry.what)
                    @if let Some(evidence) = &entry.evidence {
                        div.evidence {
                            (evidence.reason)
                            @if let Some(m) = &evidence.measurement {
                                " — " (m.requests) " requests, " (m.errors) " errors"
                                @if let Some(p95) = m.p95_ms { ", p95 " (p95) " ms" }
                                " (" (m.source) ")"
                            }
                            @for threshold in &evidence.thresholds { br; "threshold: " (threshold) }
                            @if !evidence.last_lines.is_empty() {
                                pre { @for line in &evidence.last_lines { (line) "\n" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn diff_form(records: &[Record]) -> Markup {
    let last = records.len();
    html! {
        form.controls method="get" action="/diff" {
            "Compare deployment "
            select name="from" {
                @for r in records { option value=(r.number) selected[r.number as usize + 1 == last] { (r.number) } }
            }
            " with "
            select name="to" {
                @for r in records { option value=(r.number) selected[r.number as usize == last] { (r.number) } }
            }
            button type="submit" { "diff" }
        }
    }
}

fn history_table(records: &[Record]) -> Markup {
    let newest = records.last().map(|r| r.number);
    html! {
        table {
            thead { tr {
                th { "#" } th { "trigger" } th { "revision" } th { "outcome" } th { "started" }
                th { "took" } th { "changed" } th { "by" } th { "" }
            } }
            tbody {
                @for r in records.iter().rev() {
                    tr data-deployment=(r.number) {
                        td { a href={ "/deployments/" (r.number) } { (r.number) } }
                        td { (r.trigger.to_string()) }
                        td { code { (r.revision.to_string()) } }
                        td class={ "state " (state_class(&r.outcome.to_string())) } { (r.outcome.to_string()) }
                        td { (time(r.started)) }
                        td.num { (r.ended.map_or("—".to_owned(), |e| format!("{:.1} s", (e - r.started) as f64 / 1000.0))) }
                        td { (r.changed.join(", ")) }
                        td { (r.user) }
                        td {
                            @if r.outcome == Outcome::Succeeded && Some(r.number) != newest {
                                button data-action="/api/v1/deploy"
                                    data-body=(rollback_body(r.number))
                                    data-confirm=(format!("Roll back to deployment {}?", r.number)) { "roll back" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A deployment request that rolls back to `number`.
fn rollback_body(number: u64) -> String {
    serde_json::to_string(&berth_local::Ask {
        rollback_to: Some(number),
        reason: Some("rolled back from the dashboard".to_owned()),
        ..berth_local::Ask::default()
    })
    .expect("asks serialize")
}

pub async fn one(State(project): State<Arc<Project>>, Path(number): Path<u64>) -> Markup {
    let records = project.records().unwrap_or_default();
    let body = match records.iter().find(|r| r.number == number) {
        None => {
            html! { p.state.s-failed { "There is no deployment " (number) " of " (project.environment()) "." } }
        }
        Some(record) => {
            let timeline = project.timeline(number).unwrap_or_default();
            html! {
                h2 { "Deployment " (record.number) " — " span class={ "state " (state_class(&record.outcome.to_string())) } { (record.outcome.to_string()) } }
                p {
                    (record.trigger.to_string()) " of " code { (record.revision.to_string()) } " by " (record.user)
                    @if let Some(commit) = &record.commit { " at commit " code { (commit) } }
                    @if let Some(reason) = &record.reason { " — " em { (reason) } }
                }
                table {
                    thead { tr { th { "service" } th { "revision" } th { "replicas" } th { "strategy" } th { "changed" } } }
                    tbody {
                        @for (name, service) in &record.services {
                            tr {
                                td { (name) } td { code { (service.revision.to_string()) } }
                                td.num { (service.replicas) } td { (service.strategy) }
                                td { @if record.changed.contains(name) { "yes" } }
                            }
                        }
                    }
                }
                h2 { "Timeline" }
                (analysis(&timeline))
                (timeline_list(&timeline))
            }
        }
    };
    frame(
        &project,
        "/deployments",
        &format!("Deployment {number}"),
        false,
        body,
    )
}

#[derive(Deserialize)]
pub struct Between {
    from: u64,
    to: u64,
}

pub async fn diff(State(project): State<Arc<Project>>, Query(between): Query<Between>) -> Markup {
    let records = project.records().unwrap_or_default();
    let find = |n: u64| records.iter().find(|r| r.number == n);
    let body = match (find(between.from), find(between.to)) {
        (Some(from), Some(to)) => {
            let changes = berth_engine::history::changes(from, to);
            html! {
                h2 { "Deployment " (from.number) " (" code { (from.revision.to_string()) } ") → " (to.number) " (" code { (to.revision.to_string()) } ")" }
                (diff_form(&records))
                @if changes.is_empty() { p.muted { "No setting differs." } }
                table {
                    thead { tr { th { "setting" } th { "in " (from.number) } th { "in " (to.number) } } }
                    tbody {
                        @for change in &changes {
                            tr {
                                td { code { (change.setting) } }
                                td { (change.from.as_deref().unwrap_or("—")) }
                                td { (change.to.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
        _ => {
            html! { p.state.s-failed { "Name two deployments of " (project.environment()) " that exist." } }
        }
    };
    frame(&project, "/deployments", "Diff", false, body)
}
