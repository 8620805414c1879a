//! Waiting for upstreams, as an application that needs them before it can serve.

use std::time::Duration;

use http_body_util::Empty;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Returns once every upstream's `/ready` answers 2xx, asking every 20 ms.
pub async fn wait_for(upstreams: &[String]) {
    for upstream in upstreams {
        while !ready(upstream).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn ready(upstream: &str) -> bool {
    let authority = upstream
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let attempt = async {
        let stream = TcpStream::connect(&authority).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        let request = Request::get("/ready")
            .header("host", &authority)
            .body(Empty::<Bytes>::new())
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        Some(response.status().is_success())
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
