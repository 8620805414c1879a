//! The reverse proxy itself, on hyper.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nix::sys::resource::{Resource, getrlimit};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::forwarding::{add_forwarded, resolve_dots, strip_hop_by_hop};
use super::metrics::RouteMetrics;
use super::routes::Routes;
use crate::traffic::{Router, Unsent};

type Body = BoxBody<Bytes, hyper::Error>;

/// Where the gateway serves its own metrics.
const METRICS_PATH: &str = "/_berth/metrics";

/// How long a client may take to send a request's headers, and how long a
/// connection may sit idle between requests.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an instance may take to begin its answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `routes` on `listener` until the task is dropped. The gateway keeps
/// `metrics` and serves them; a service's own listener keeps none, so that every
/// path is the service's.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    backends: Arc<Router>,
    metrics: Option<RouteMetrics>,
) {
    loop {
        // Past the limit, clients wait in the listen queue instead of taking the
        // descriptors berth needs for its instances and its control socket.
        let permit = connection_slots()
            .clone()
            .acquire_owned()
            .await
            .expect("the connection limit is never closed");
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors, most likely: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (routes, backends, metrics) = (routes.clone(), backends.clone(), metrics.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (routes, backends, metrics) =
                    (routes.clone(), backends.clone(), metrics.clone());
                async move {
                    Ok::<_, Infallible>(route(request, peer, &routes, &backends, &metrics).await)
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// The connections every listener of this berth may hold at once, shared: a
/// third of the descriptors it may open, as each takes one more to an instance.
fn connection_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
        let slots = (soft / 3).clamp(16, 100_000);
        Arc::new(Semaphore::new(slots as usize))
    })
}

async fn route(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    routes: &Routes,
    backends: &Router,
    metrics: &Option<RouteMetrics>,
) -> Response<Body> {
    let path = resolve_dots(request.uri().path());
    if let Some(metrics) = metrics
        && path == METRICS_PATH
    {
        return text(
            StatusCode::OK,
            metrics.render() + &backends.render_metrics(),
        );
    }
    let Some(route) = routes.find(&path) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("berth gateway: no route for {path}\n"),
        );
    };
    let started = Instant::now();
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let forward = route.forward(&path_and_query);
    strip_hop_by_hop(request.headers_mut());
    add_forwarded(request.headers_mut(), peer);
    let (mut response, pick) = send(request, &route.service, &forward, backends).await;
    strip_hop_by_hop(response.headers_mut());
    let failed = response.status().is_server_error();
    if let Some(pick) = pick {
        pick.record(failed, started.elapsed());
    }
    if let Some(metrics) = metrics {
        metrics.record(&route.prefix, failed, started.elapsed());
    }
    response
}

/// Sends the request to a ready instance. One that never received it — its
/// connection refused or closed first — is skipped for another.
async fn send(
    request: Request<Incoming>,
    service: &str,
    path: &str,
    backends: &Router,
) -> (Response<Body>, Option<crate::traffic::Pick>) {
    let mut avoid = None;
    let mut request = match with_path(request, path) {
        Ok(request) => request,
        Err(e) => return (text(StatusCode::BAD_REQUEST, format!("berth: {e}\n")), None),
    };
    for _ in 0..3 {
        let Some(pick) = backends.pick(service, avoid) else {
            break;
        };
        let sent = tokio::time::timeout(
            UPSTREAM_TIMEOUT,
            backends.upstreams.send(pick.port, request),
        );
        let Ok(sent) = sent.await else {
            let response = text(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "berth: {service} did not answer within {} s\n",
                    UPSTREAM_TIMEOUT.as_secs()
                ),
            );
            return (response, Some(pick));
        };
        match sent {
            Ok(response) => return (response.map(|body| body.boxed()), Some(pick)),
            Err(Unsent {
                request: Some(unsent),
                ..
            }) => {
                request = unsent;
                avoid = Some(pick.port);
            }
            Err(Unsent { error, .. }) => {
                let response = text(
                    StatusCode::BAD_GATEWAY,
                    format!("berth: {service} did not answer: {error}\n"),
                );
                return (response, Some(pick));
            }
        }
    }
    let response = text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("berth: no ready instance of {service}\n"),
    );
    (response, None)
}

fn with_path(mut request: Request<Incoming>, path: &str) -> Result<Request<Incoming>, String> {
    *request.uri_mut() = path
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    Ok(request)
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}
