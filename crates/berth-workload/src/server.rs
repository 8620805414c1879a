//! The HTTP server.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::options::Options;
use crate::upstream;

struct State {
    options: Options,
    ready: AtomicBool,
    /// Ordinary requests so far, which decides which of them fail.
    requests: AtomicU64,
    metrics: Metrics,
}

/// Serves until SIGTERM or SIGINT (then returns), or until `crash_after` (then
/// exits the process with status 1).
pub(crate) async fn serve(options: Options) -> std::io::Result<()> {
    tokio::time::sleep(options.start_delay).await;
    let listener = TcpListener::bind((options.address, options.port)).await?;
    let port = listener.local_addr()?.port();
    println!(
        "{} {} listening on port {port}",
        options.name, options.version
    );
    let state = Arc::new(State {
        ready: AtomicBool::new(options.upstreams.is_empty()),
        requests: AtomicU64::new(0),
        metrics: Metrics::default(),
        options,
    });
    if let Some(after) = state.options.crash_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            eprintln!("crashing, as told to after {after:?}");
            std::process::exit(1);
        });
    }
    if !state.options.upstreams.is_empty() {
        let state = state.clone();
        tokio::spawn(async move {
            upstream::wait_for(&state.options.upstreams).await;
            println!("upstreams ready");
            state.ready.store(true, Ordering::SeqCst);
        });
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let state = state.clone();
                let service = service_fn(move |request| answer(state.clone(), request));
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("{} stopping", state.options.name);
    // Requests under way finish, as a server stopped for a rollout should; idle
    // kept-alive connections are closed.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let response = match Endpoint::of(path) {
        Endpoint::Health => text(StatusCode::OK, "ok\n".to_owned()),
        Endpoint::Ready if state.ready.load(Ordering::SeqCst) => {
            text(StatusCode::OK, "ready\n".to_owned())
        }
        Endpoint::Ready => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for upstreams\n".to_owned(),
        ),
        Endpoint::Metrics => text(StatusCode::OK, state.metrics.render(&state.options.name)),
        Endpoint::Work => return Ok(work(&state, path).await),
    };
    Ok(response)
}

/// What a path asks for. Applications name their probes differently (`/healthz`,
/// `/health`, `/api/ready`, `/minio/health/live`); the stand-in answers them all.
enum Endpoint {
    Health,
    Ready,
    Metrics,
    Work,
}

impl Endpoint {
    fn of(path: &str) -> Endpoint {
        let last = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        match last {
            "healthz" | "health" | "livez" | "live" => Endpoint::Health,
            "ready" | "readyz" => Endpoint::Ready,
            "metrics" => Endpoint::Metrics,
            _ => Endpoint::Work,
        }
    }
}

/// An ordinary request: slow and failing as told.
async fn work(state: &State, path: &str) -> Response<Full<Bytes>> {
    let started = Instant::now();
    tokio::time::sleep(state.options.latency).await;
    let rate = state.options.failure_rate;
    // Failures spread evenly: request n fails when it crosses a multiple of 1/rate.
    let n = state.requests.fetch_add(1, Ordering::SeqCst) as f64;
    let failed = ((n + 1.0) * rate).floor() > (n * rate).floor();
    state.metrics.record(failed, started.elapsed());
    let options = &state.options;
    if failed {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{} {} failed {path}\n", options.name, options.version),
        )
    } else {
        text(
            StatusCode::OK,
            format!("{} {} {path}\n", options.name, options.version),
        )
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
