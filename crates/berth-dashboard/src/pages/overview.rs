//! The ecosystem page: the plan as a graph — phases, waves, dependencies —
//! with each service's live state, and the table of running instances.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use berth_core::plan::{Plan, Wait};
use berth_local::InstanceReport;
use maud::{Markup, html};

use super::frame::{bytes, frame, state_class};
use crate::project::Project;
use crate::usage;

const NODE_W: f64 = 190.0;
const NODE_H: f64 = 56.0;
const GAP_X: f64 = 70.0;
const GAP_Y: f64 = 18.0;
const TOP: f64 = 34.0;

pub async fn page(State(project): State<Arc<Project>>) -> Markup {
    let live = project.live().await;
    let instances = live.as_ref().map(|l| l.instances.as_slice()).unwrap_or(&[]);
    let body = html! {
        h2 { "Plan and state" }
        (graph(&project.plan, instances))
        @if !project.plan.external.is_empty() {
            p.muted {
                "Kept outside this environment: "
                @for (i, external) in project.plan.external.iter().enumerate() {
                    @if i > 0 { ", " }
                    (external.service) " (" (external.address) ")"
                }
            }
        }
        h2 { "Instances" }
        @if live.is_none() {
            p.muted { "No berth is running here: start one with " code { "berth up" } "." }
        }
        table {
            thead { tr {
                th { "instance" } th { "revision" } th { "state" } th { "health" } th { "restarts" }
                th { "pid" } th { "port" } th { "uptime" } th { "CPU" } th { "memory" } th { "" }
            } }
            tbody #instances {
                @for i in instances { (row(i)) }
            }
        }
    };
    frame(&project, "/", "Ecosystem", true, body)
}

/// A row as the page first shows it; the script keeps it current.
fn row(i: &InstanceReport) -> Markup {
    html! {
        tr data-instance=(i.instance) {
            td { (i.instance) }
            td { (i.revision) }
            td class={ "state " (state_class(&i.state)) } { (i.state) }
            td { @if i.ready { "ready" } @else { "—" } }
            td.num { (i.restarts) }
            td.num { (i.pid.map_or("—".to_owned(), |p| p.to_string())) }
            td.num { (i.port.map_or("—".to_owned(), |p| p.to_string())) }
            td.num { (i.uptime_seconds.map_or("—".to_owned(), |s| format!("{s} s"))) }
            td.num { "—" }
            td.num { (i.pid.and_then(memory).unwrap_or_else(|| "—".to_owned())) }
            td {
                button data-action={ "/api/v1/services/" (i.service) "/restart" } { "restart" } " "
                button data-action={ "/api/v1/services/" (i.service) "/stop" } { "stop" }
            }
        }
    }
}

/// What a process holds in memory now; its CPU share needs a second look,
/// which the events bring.
fn memory(pid: u32) -> Option<String> {
    usage::rss(pid).map(bytes)
}

/// Where a service's box is: its column (a wave, counted across phases) and row.
struct Place {
    column: usize,
    row: usize,
}

/// The plan drawn left to right: a column per wave, phases named above their
/// first wave, an arrow from each dependency to what waits for it.
fn graph(plan: &Plan, instances: &[InstanceReport]) -> Markup {
    let mut places: HashMap<&str, Place> = HashMap::new();
    let mut phase_starts = Vec::new();
    let mut column = 0;
    let mut rows = 0;
    for phase in &plan.phases {
        phase_starts.push((column, phase.name.as_str()));
        for wave in &phase.waves {
            for (row, step) in wave.iter().enumerate() {
                places.insert(&step.service, Place { column, row });
                rows = rows.max(row + 1);
            }
            column += 1;
        }
    }
    let x = |place: &Place| 10.0 + place.column as f64 * (NODE_W + GAP_X);
    let y = |place: &Place| TOP + place.row as f64 * (NODE_H + GAP_Y);
    let width = 20.0 + column as f64 * (NODE_W + GAP_X);
    let height = TOP + rows as f64 * (NODE_H + GAP_Y);
    let mut edges = Vec::new();
    for step in plan.services() {
        for gate in &step.after {
            if let (Some(from), Some(to)) = (
                places.get(gate.service.as_str()),
                places.get(step.service.as_str()),
            ) {
                let (x1, y1) = (x(from) + NODE_W, y(from) + NODE_H / 2.0);
                let (x2, y2) = (x(to), y(to) + NODE_H / 2.0);
                let bend = (x2 - x1).abs() / 2.0;
                edges.push(format!(
                    "M{x1:.0},{y1:.0} C{:.0},{y1:.0} {:.0},{y2:.0} {x2:.0},{y2:.0}",
                    x1 + bend,
                    x2 - bend
                ));
            }
        }
    }
    html! {
        svg.graph width=(width) height=(height) role="img" aria-label="the plan" {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto" {
                    path d="M0,0 L10,5 L0,10 z" fill="#8c959f" {}
                }
            }
            @for (column, name) in &phase_starts {
                text.phase x=(10.0 + *column as f64 * (NODE_W + GAP_X)) y="16" { "phase " (name) }
            }
            @for edge in &edges { path.edge d=(edge) {} }
            @for step in plan.services() {
                @let place = &places[step.service.as_str()];
                @let state = service_state(instances, &step.service);
                @let gates: Vec<(String, String)> = step.after.iter()
                    .filter(|g| g.condition != Wait::External)
                    .map(|g| (g.service.clone(), g.condition.to_string()))
                    .collect();
                g class={ "node " (state_class(&state)) } data-base="node" data-service=(step.service)
                    data-gates=(serde_json::to_string(&gates).expect("gates serialize"))
                    transform=(format!("translate({:.0},{:.0})", x(place), y(place))) {
                    rect width=(NODE_W) height=(NODE_H) {}
                    text.name x="10" y="18" {
                        (step.service)
                        @if step.replicas > 1 { " ×" (step.replicas) }
                    }
                    text.node-state x="10" y="34" { (state) }
                    text.node-waits x="10" y="49" {}
                }
            }
        }
    }
}

/// A service's state over its instances as the page first shows it.
fn service_state(instances: &[InstanceReport], service: &str) -> String {
    let states: Vec<&str> = instances
        .iter()
        .filter(|i| i.service == service)
        .map(|i| i.state.as_str())
        .collect();
    states
        .iter()
        .find(|s| !s.starts_with("running") && !s.starts_with("completed"))
        .or(states.first())
        .map_or("pending".to_owned(), |s| (*s).to_owned())
}
