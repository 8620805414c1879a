//! The control API's routes, and serving them on the Unix socket. Each request
//! is served on its own task, so a deployment or a slow client never keeps
//! `status` waiting.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as Segment, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::Runtime;
use futures_util::Stream;
use tokio::sync::{mpsc, watch};

use super::{Progress, Reply, RolloutReport};
use crate::deployer::{Ask, Deployer, Told};

/// How long the events stream waits after a change for the ones that come
/// with it (a hundred services starting), so that it sends one status for them.
const COALESCE: Duration = Duration::from_millis(100);
/// How often it looks for what is not watched: units a deployment adds, the
/// router's weights, the last analysis.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// How long connections still open when berth goes down (a dashboard's events,
/// a deployment's stream) are given before the socket is closed under them.
const DRAIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Berth {
    deployer: Arc<Deployer>,
    progress: watch::Receiver<Progress>,
    down: mpsc::Sender<()>,
}

/// The control API's routes, for a berth that is told to go down on `down`.
fn routes(
    deployer: Arc<Deployer>,
    progress: watch::Receiver<Progress>,
    down: mpsc::Sender<()>,
) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/progress", get(how_far))
        .route("/v1/events", get(events))
        .route("/v1/services/{service}/stop", post(stop))
        .route("/v1/services/{service}/restart", post(restart))
        .route("/v1/deploy", post(deploy))
        .route("/v1/promote", post(promote))
        .route("/v1/abort", post(abort))
        .route("/v1/down", post(go_down))
        .with_state(Berth {
            deployer,
            progress,
            down,
        })
}

/// Answers requests on `path` until one asks berth to go down.
pub async fn serve(
    path: &Path,
    deployer: Arc<Deployer>,
    progress: watch::Receiver<Progress>,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    let (down, mut asked) = mpsc::channel::<()>(1);
    let (drained, mut draining) = watch::channel(false);
    let server = axum::serve(listener, routes(deployer, progress, down)).with_graceful_shutdown(
        async move {
            asked.recv().await;
            let _ = drained.send(true);
        },
    );
    tokio::select! {
        served = server => served,
        _ = async {
            let _ = draining.wait_for(|d| *d).await;
            tokio::time::sleep(DRAIN).await;
        } => Ok(()),
    }
}

/// A reply as the API sends it: one JSON line.
fn line(reply: &Reply) -> String {
    let mut line = serde_json::to_string(reply).expect("replies serialize");
    line.push('\n');
    line
}

/// One reply as the body of its answer.
fn answer(status: StatusCode, reply: &Reply) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        line(reply),
    )
        .into_response()
}

fn said(result: Result<Reply, String>) -> Response {
    match result {
        Ok(reply) => answer(StatusCode::OK, &reply),
        Err(message) => answer(StatusCode::CONFLICT, &Reply::Error { message }),
    }
}

fn status_of(berth: &Berth) -> Reply {
    Reply::Status {
        progress: berth.progress.borrow().clone(),
        instances: berth.deployer.runtime.reports(),
        rollouts: rollouts(&berth.deployer),
    }
}

async fn status(State(berth): State<Berth>) -> Response {
    answer(StatusCode::OK, &status_of(&berth))
}

async fn how_far(State(berth): State<Berth>) -> Response {
    let progress = berth.progress.borrow().clone();
    answer(StatusCode::OK, &Reply::Progress { progress })
}

/// The status as server-sent events: now, and again whenever something but
/// the uptimes changes (they change every second; a client counts them on).
async fn events(State(berth): State<Berth>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = futures_util::stream::unfold(
        (berth, serde_json::Value::Null),
        |(berth, last)| async move {
            loop {
                // Watched before the status is taken, so no change falls between.
                let watched = watched_units(&berth);
                let now = serde_json::to_value(status_of(&berth)).expect("replies serialize");
                let compared = without_uptimes(&now);
                if compared != last {
                    let event = Event::default().event("status").data(now.to_string());
                    return Some((Ok(event), (berth, compared)));
                }
                next_change(&berth, watched).await;
                tokio::time::sleep(COALESCE).await;
            }
        },
    );
    Sse::new(changes).keep_alive(KeepAlive::default())
}

fn watched_units(berth: &Berth) -> Vec<watch::Receiver<berth_engine::UnitStatus>> {
    let runtime = &berth.deployer.runtime;
    runtime
        .units()
        .iter()
        .filter_map(|(unit, _)| runtime.watch(unit))
        .collect()
}

/// Until a unit's status or berth's progress changes, or for at most
/// [`LOOK_AGAIN`]: new units, weights and analyses are not watched.
async fn next_change(berth: &Berth, mut watched: Vec<watch::Receiver<berth_engine::UnitStatus>>) {
    let mut progress = berth.progress.clone();
    let units = async {
        if watched.is_empty() {
            return std::future::pending().await;
        }
        let changes = watched.iter_mut().map(|w| Box::pin(w.changed()));
        let _ = futures_util::future::select_all(changes).await;
    };
    tokio::select! {
        _ = units => {}
        _ = progress.changed() => {}
        _ = tokio::time::sleep(LOOK_AGAIN) => {}
    }
}

fn without_uptimes(status: &serde_json::Value) -> serde_json::Value {
    let mut status = status.clone();
    for instance in status["instances"].as_array_mut().into_iter().flatten() {
        instance["uptime_seconds"] = serde_json::Value::Null;
    }
    status
}

/// The service, if any instance of it runs here.
fn known(berth: &Berth, service: &str) -> Result<(), String> {
    let units = berth.deployer.runtime.units();
    if units.iter().any(|(unit, _)| unit.service == service) {
        Ok(())
    } else {
        Err(format!("there is no service `{service}` running"))
    }
}

async fn stop(State(berth): State<Berth>, Segment(service): Segment<String>) -> Response {
    if let Err(message) = known(&berth, &service) {
        return answer(StatusCode::NOT_FOUND, &Reply::Error { message });
    }
    berth.deployer.runtime.stop(&service).await;
    answer(StatusCode::OK, &Reply::Done)
}

async fn restart(State(berth): State<Berth>, Segment(service): Segment<String>) -> Response {
    if let Err(message) = known(&berth, &service) {
        return answer(StatusCode::NOT_FOUND, &Reply::Error { message });
    }
    said(
        berth
            .deployer
            .restart(&service)
            .await
            .map(|message| Reply::Said { message }),
    )
}

async fn promote(State(berth): State<Berth>) -> Response {
    said(berth.deployer.promote().map(|()| Reply::Done))
}

async fn abort(State(berth): State<Berth>) -> Response {
    said(berth.deployer.abort().map(|()| Reply::Done))
}

async fn go_down(State(berth): State<Berth>) -> Response {
    let _ = berth.down.try_send(());
    answer(StatusCode::OK, &Reply::Done)
}

/// A deployment, its plan and timeline streamed as they come, then its result.
/// It runs on a task of its own: a client that goes away does not stop it.
async fn deploy(State(berth): State<Berth>, body: String) -> Response {
    let ask: Ask = match serde_json::from_str(&body) {
        Ok(ask) => ask,
        Err(e) => {
            let message = format!("not a deployment request: {e}");
            return answer(StatusCode::BAD_REQUEST, &Reply::Error { message });
        }
    };
    let (replies, received) = mpsc::unbounded_channel::<Reply>();
    tokio::spawn(async move {
        let told = replies.clone();
        let tell = move |told_now: Told| {
            let _ = told.send(match told_now {
                Told::Plan(plan) => Reply::Plan(plan.clone()),
                Told::Entry(entry) => Reply::Entry(entry),
            });
        };
        let result = berth.deployer.deploy(&ask, &tell).await;
        let _ = replies.send(match result {
            Ok(result) => Reply::Deployed(result),
            Err(message) => Reply::Error { message },
        });
    });
    let lines = futures_util::stream::unfold(received, |mut received| async move {
        let reply = received.recv().await?;
        Some((Ok::<_, Infallible>(line(&reply)), received))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}

fn rollouts(deployer: &Deployer) -> Vec<RolloutReport> {
    let runtime = deployer.runtime.as_ref();
    let analyses = deployer.analyses();
    // A service has a unit per revision while it rolls out: each named once.
    let services: indexmap::IndexSet<String> = runtime
        .units()
        .into_iter()
        .map(|(u, _)| u.service)
        .collect();
    services
        .into_iter()
        .filter_map(|service| {
            let weights = runtime.weights(&service);
            if weights.is_empty() {
                return None;
            }
            Some(RolloutReport {
                analysis: analyses
                    .iter()
                    .find(|a| a.service.as_deref() == Some(service.as_str()))
                    .cloned(),
                weights: weights
                    .into_iter()
                    .map(|(r, w)| (r.to_string(), w))
                    .collect(),
                service,
            })
        })
        .collect()
}
