//! What changes while the page is open: the control API passed through to the
//! running berth, its status as events with each local process's CPU and
//! memory added, and services' logs as events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use berth_local::{Follower, LogFiles, LogLine};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error;
use crate::project::Project;
use crate::usage::Sampler;

type Shared = Arc<Project>;

/// How soon a berth is looked for again once none answers, and how often logs
/// are looked at.
const LOOK_AGAIN: Duration = Duration::from_secs(2);
/// How often a quiet stream says it is there: a page that went is noticed by
/// the next write.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How often what each process uses is sent again, without a change.
const USAGE_EVERY: Duration = Duration::from_secs(3);
const LOGS_EVERY: Duration = Duration::from_millis(100);
/// How many of the lines already written a log stream starts with.
const LOGS_BACK: usize = 200;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/api/v1/services/{service}/{verb}", post(service_action))
        .route("/api/v1/{verb}", post(action))
        .route("/api/logs", get(logs))
}

fn not_running() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "no berth is running here: start it with `berth up`",
    )
}

/// Passes a request to the running berth and its answer back as it streams.
async fn pass(project: &Project, method: &Method, path: &str, body: Option<String>) -> Response {
    let Ok(answer) = project.client.send(method.as_str(), path, body).await else {
        return not_running();
    };
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(Body::new(body));
    *response.status_mut() = parts.status;
    if let Some(kind) = parts.headers.get(header::CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, kind.clone());
    }
    response
}

async fn status(State(project): State<Shared>) -> Response {
    pass(&project, &Method::GET, "/v1/status", None).await
}

async fn service_action(
    State(project): State<Shared>,
    Path((service, verb)): Path<(String, String)>,
) -> Response {
    let request = match verb.as_str() {
        "stop" => berth_local::Request::Stop { service },
        "restart" => berth_local::Request::Restart { service },
        _ => return error(StatusCode::NOT_FOUND, format!("no action `{verb}`")),
    };
    let (method, path, body) = request.route();
    pass(&project, &method.parse().expect("a method"), &path, body).await
}

async fn action(State(project): State<Shared>, Path(verb): Path<String>, body: String) -> Response {
    if !matches!(verb.as_str(), "promote" | "abort" | "deploy") {
        return error(StatusCode::NOT_FOUND, format!("no action `{verb}`"));
    }
    let body = (verb == "deploy").then_some(body);
    pass(&project, &Method::POST, &format!("/v1/{verb}"), body).await
}

/// The running berth's status now and on every change, each instance with
/// what its process uses; `down` while no berth answers, and again once one does.
async fn events(
    State(project): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, received) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(follow(project, sender));
    let mut usage = tokio::time::interval(USAGE_EVERY);
    usage.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let statuses = futures_util::stream::unfold(
        (
            received,
            Sampler::default(),
            usage,
            Value::Null,
            Instant::now(),
        ),
        |(mut received, sampler, mut usage, mut last, mut at)| async move {
            // A change is sent at once; what processes use, every few seconds.
            loop {
                tokio::select! {
                    status = received.recv() => (last, at) = (status?, Instant::now()),
                    _ = usage.tick() => {}
                }
                if !last.is_null() {
                    break;
                }
            }
            let mut status = last.clone();
            add_age(&mut status, at.elapsed());
            add_usage(&mut status, &sampler);
            let event = Event::default().event("status").data(status.to_string());
            Some((Ok(event), (received, sampler, usage, last, at)))
        },
    );
    Sse::new(statuses).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Passes the berth's events on while anyone listens, says `down` when there
/// is no berth, and looks for one again.
async fn follow(project: Shared, sender: mpsc::UnboundedSender<Value>) {
    // Whoever listened may go while nothing changes: then this goes at once,
    // and its stream from the berth with it.
    let forwarding = async {
        loop {
            let _ = project
                .client
                .events(|reply| {
                    let status = serde_json::to_value(&reply).expect("replies serialize");
                    sender.send(status).is_ok()
                })
                .await;
            if sender.send(serde_json::json!({ "reply": "down" })).is_err() {
                return;
            }
            tokio::time::sleep(LOOK_AGAIN).await;
        }
    };
    tokio::select! {
        _ = forwarding => {}
        _ = sender.closed() => {}
    }
}

/// A status sent again: its uptimes as they are now.
fn add_age(status: &mut Value, since: Duration) {
    let instances = status.get_mut("instances").and_then(Value::as_array_mut);
    for instance in instances.into_iter().flatten() {
        if let Some(uptime) = instance["uptime_seconds"].as_u64() {
            instance["uptime_seconds"] = (uptime + since.as_secs()).into();
        }
    }
}

/// Adds `use` to each instance of `status` that has a process.
fn add_usage(status: &mut Value, sampler: &Sampler) {
    let mut pids = Vec::new();
    if let Some(instances) = status.get_mut("instances").and_then(Value::as_array_mut) {
        for instance in instances {
            let Some(pid) = instance.get("pid").and_then(Value::as_u64) else {
                continue;
            };
            pids.push(pid as u32);
            if let Some(usage) = sampler.sample(pid as u32) {
                instance["use"] = serde_json::to_value(usage).expect("usage serializes");
            }
        }
    }
    sampler.keep_only(&pids);
}

/// The chosen services' logs (all without `service=`): the last lines written,
/// then each batch of new ones as one event, so a busy service costs one
/// event a tenth of a second, not one a line.
async fn logs(
    State(project): State<Shared>,
    RawQuery(query): RawQuery,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let services = chosen_services(query.as_deref());
    let dir = project.state_dir.join("logs");
    let files = LogFiles::of(&dir, &services).ok();
    let back = files.as_ref().map(|f| f.lines()).unwrap_or_default();
    let back = back[back.len().saturating_sub(LOGS_BACK)..].to_vec();
    let follower = files.map_or_else(|| Follower::from_start(&dir, &services), |f| f.follower());
    let first = futures_util::stream::iter((!back.is_empty()).then(|| batch(&back)));
    let fresh = futures_util::stream::unfold(follower, |mut follower| async move {
        loop {
            tokio::time::sleep(LOGS_EVERY).await;
            let lines = follower.fresh();
            if !lines.is_empty() {
                return Some((batch(&lines), follower));
            }
        }
    });
    Sse::new(first.chain(fresh)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The `service=` values of a query string, in order.
pub fn chosen_services(query: Option<&str>) -> Vec<String> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, value)| key == "service" && !value.is_empty())
        .map(|(_, value)| value)
        .collect()
}

fn batch(lines: &[LogLine]) -> Result<Event, Infallible> {
    let lines: Vec<Value> = lines
        .iter()
        .map(|line| {
            serde_json::json!({
                "at": humantime::format_rfc3339_millis(line.at).to_string(),
                "instance": line.label,
                "text": line.text,
            })
        })
        .collect();
    Ok(Event::default()
        .event("lines")
        .data(Value::Array(lines).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_sent_again_has_its_uptimes_counted_on_and_down_stays_as_it_is() {
        let mut status = serde_json::json!({ "reply": "status", "instances": [
            { "instance": "api", "uptime_seconds": 10 },
            { "instance": "migrate", "uptime_seconds": null },
        ] });
        add_age(&mut status, Duration::from_millis(5_400));
        assert_eq!(status["instances"][0]["uptime_seconds"], 15);
        assert_eq!(status["instances"][1]["uptime_seconds"], Value::Null);
        let mut down = serde_json::json!({ "reply": "down" });
        add_age(&mut down, Duration::from_secs(3));
        assert_eq!(down, serde_json::json!({ "reply": "down" }));
    }

    #[test]
    fn services_are_read_from_repeated_keys_and_nothing_else() {
        let chosen = chosen_services(Some("service=api&x=1&service=web%20x&service="));
        assert_eq!(chosen, ["api", "web x"]);
        assert!(chosen_services(None).is_empty());
        assert!(chosen_services(Some("%%%")).is_empty());
    }
}
