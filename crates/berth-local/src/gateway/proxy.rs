//! The reverse proxy itself, on hyper.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::metrics::RouteMetrics;
use super::routes::{Backends, Routes};

type Body = BoxBody<Bytes, hyper::Error>;

/// Where the gateway serves its own metrics.
const METRICS_PATH: &str = "/_berth/metrics";

/// Serves `routes` on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    backends: Backends,
    metrics: RouteMetrics,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
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
    backends: &Backends,
    metrics: &RouteMetrics,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    if path == METRICS_PATH {
        return text(StatusCode::OK, metrics.render());
    }
    let Some(route) = routes.find(&path) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("berth gateway: no route for {path}\n"),
        );
    };
    let started = Instant::now();
    let response = match backends.pick(&route.service) {
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("berth gateway: no ready instance of {}\n", route.service),
        ),
        Some(port) => {
            let path_and_query = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let forward = route.forward(path_and_query);
            match forward_to(request, port, &forward).await {
                Ok(response) => response.map(|body| body.boxed()),
                Err(e) => text(
                    StatusCode::BAD_GATEWAY,
                    format!("berth gateway: {} did not answer: {e}\n", route.service),
                ),
            }
        }
    };
    metrics.record(
        &route.prefix,
        response.status().is_server_error(),
        started.elapsed(),
    );
    response
}

async fn forward_to(
    mut request: Request<Incoming>,
    port: u16,
    path: &str,
) -> Result<Response<Incoming>, String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    *request.uri_mut() = path
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}
