//! HTTP GET on loopback: 2xx and 3xx pass.

use http_body_util::Empty;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub async fn passes(port: u16, path: &str) -> bool {
    status(port, path)
        .await
        .is_some_and(|status| (200..400).contains(&status))
}

async fn status(port: u16, path: &str) -> Option<u16> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("user-agent", "berth-probe")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}
