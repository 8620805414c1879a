//! The control API's client: HTTP/1.1 over the Unix socket, one connection per
//! request, answers read as JSON lines.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use http_body_util::{BodyStream, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;

use super::{Reply, Request};

/// A running berth, reached through its socket.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: &Path) -> Client {
        Client {
            socket: socket.to_owned(),
        }
    }

    /// Sends `method path` with `body`; the answer as it arrives.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> std::io::Result<hyper::Response<Incoming>> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "berth")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(std::io::Error::other)?;
        sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)
    }

    /// Sends one request and hands every reply to `each`, the last included.
    pub async fn ask(&self, request: &Request, mut each: impl FnMut(Reply)) -> std::io::Result<()> {
        let (method, path, body) = request.route();
        let answer = self.send(method, &path, body).await?;
        pieces(answer.into_body(), b"\n", |line| {
            each(serde_json::from_slice(line).map_err(std::io::Error::other)?);
            Ok(true)
        })
        .await
    }

    /// Follows `GET /v1/events`: hands each status to `each` until it says to
    /// stop (false) or the berth goes away.
    pub async fn events(&self, mut each: impl FnMut(Reply) -> bool) -> std::io::Result<()> {
        let answer = self.send("GET", "/v1/events", None).await?;
        pieces(answer.into_body(), b"\n\n", |event| {
            Ok(event_data(event).is_none_or(&mut each))
        })
        .await
    }

    /// One request's last reply.
    pub async fn reply(&self, request: &Request) -> std::io::Result<Reply> {
        let mut last = None;
        self.ask(request, |reply| last = Some(reply)).await?;
        last.ok_or_else(|| std::io::Error::other("no reply"))
    }
}

/// Hands each piece of `body` that ends with `end` to `each`, as they arrive,
/// until `each` says to stop (false) or the body ends.
async fn pieces(
    body: Incoming,
    end: &[u8],
    mut each: impl FnMut(&[u8]) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    let mut frames = BodyStream::new(body);
    let mut pending = Vec::new();
    while let Some(frame) = frames.next().await {
        let Ok(data) = frame.map_err(std::io::Error::other)?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(at) = pending.windows(end.len()).position(|w| w == end) {
            let piece: Vec<u8> = pending.drain(..at + end.len()).collect();
            if !each(&piece)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The reply in one server-sent event's `data:` lines; none in a keep-alive.
fn event_data(event: &[u8]) -> Option<Reply> {
    let text = std::str::from_utf8(event).ok()?;
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data))
        .collect();
    serde_json::from_str(&data.join("\n")).ok()
}

/// For callers without a runtime of their own: the CLI's commands.
fn blocking<T>(work: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// Sends one request to the berth serving `path`; its last reply.
pub fn request(path: &Path, request: &Request) -> std::io::Result<Reply> {
    blocking(Client::new(path).reply(request))
}

/// Hands each status of the berth serving `path` to `each`, as it changes,
/// until `each` says to stop or the berth goes away.
pub fn events(path: &Path, each: impl FnMut(Reply) -> bool) -> std::io::Result<()> {
    blocking(Client::new(path).events(each))
}

/// Sends one request and hands every reply to `each`, the last included.
pub fn stream(path: &Path, request: &Request, each: &mut dyn FnMut(Reply)) -> std::io::Result<()> {
    blocking(Client::new(path).ask(request, each))
}
