//! The reverse proxy itself, on hyper.

use std::convert::Infallible;
use std::time::Instant;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::metrics::RouteMetrics;
use super::routes::Routes;
use crate::traffic::{Router, Unsent};
use std::sync::Arc;

type Body = BoxBody<Bytes, hyper::Error>;

/// Where the gateway serves its own metrics.
const METRICS_PATH: &str = "/_berth/metrics";

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
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let (routes, backends, metrics) = (routes.clone(), backends.clone(), metrics.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (routes, backends, metrics) =
                    (routes.clone(), backends.clone(), metrics.clone());
                async move { Ok::<_, Infallible>(route(request, &routes, &backends, &metrics).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    request: Request<Incoming>,
    routes: &Routes,
    backends: &Router,
    metrics: &Option<RouteMetrics>,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
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
    let path_and_query = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let forward = route.forward(path_and_query);
    let (response, pick) = send(request, &route.service, &forward, backends).await;
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
        match backends.upstreams.send(pick.port, request).await {
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
