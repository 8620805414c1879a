//! Smoke checks: one HTTP request each, and what it must answer.

use std::time::Duration;

use berth_core::model::Smoke;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// How long one smoke request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends the check's request to `address` (`host:port`) and compares the answer.
pub async fn check(address: &str, smoke: &Smoke) -> Result<(), String> {
    tokio::time::timeout(TIMEOUT, request(address, smoke))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}",
                humantime::format_duration(TIMEOUT)
            ))
        })
}

async fn request(address: &str, smoke: &Smoke) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let method: hyper::Method = smoke
        .method
        .parse()
        .map_err(|_| format!("`{}` is not an HTTP method", smoke.method))?;
    let request = hyper::Request::builder()
        .method(method)
        .uri(&smoke.path)
        .header(hyper::header::HOST, address)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status != smoke.status {
        return Err(format!("answered {status}, expected {}", smoke.status));
    }
    if let Some(expected) = &smoke.body
        && !String::from_utf8_lossy(&body).contains(expected.as_str())
    {
        return Err(format!("the body does not contain `{expected}`"));
    }
    Ok(())
}
