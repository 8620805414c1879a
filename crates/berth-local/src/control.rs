//! The control socket, `.berth/berth.sock`: how `berth status`, `stop`, `restart`
//! and `down` talk to a running berth, foreground or detached. One JSON request
//! per connection, one JSON reply.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, SystemTime};

use berth_engine::Runtime;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::runtime::LocalRuntime;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Status,
    Stop { service: String },
    Restart { service: String },
    Down,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Status {
        progress: Progress,
        instances: Vec<InstanceReport>,
    },
    Done,
    Error {
        message: String,
    },
}

/// How far `up` has come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "progress", content = "detail", rename_all = "snake_case")]
pub enum Progress {
    Starting,
    Up,
    Failed(String),
    Stopping,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstanceReport {
    pub service: String,
    pub instance: String,
    pub pid: Option<u32>,
    pub state: String,
    pub ready: bool,
    pub restarts: u32,
    pub port: Option<u16>,
    pub uptime_seconds: Option<u64>,
}

/// Answers requests on `path` until a `down` request arrives.
pub async fn serve(
    path: &Path,
    runtime: &LocalRuntime,
    progress: watch::Receiver<Progress>,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        if tokio::io::BufReader::new(read)
            .read_line(&mut line)
            .await
            .is_err()
        {
            continue;
        }
        let request: Result<Request, _> = serde_json::from_str(&line);
        let down = matches!(request, Ok(Request::Down));
        let reply = match request {
            Ok(request) => answer(request, runtime, &progress).await,
            Err(e) => Reply::Error {
                message: format!("not a request: {e}"),
            },
        };
        let mut text = serde_json::to_string(&reply).expect("replies serialize");
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
        if down {
            return Ok(());
        }
    }
}

async fn answer(
    request: Request,
    runtime: &LocalRuntime,
    progress: &watch::Receiver<Progress>,
) -> Reply {
    match request {
        Request::Status => Reply::Status {
            progress: progress.borrow().clone(),
            instances: runtime.reports(),
        },
        Request::Stop { service } | Request::Restart { service } if !runtime.has(&service) => {
            Reply::Error {
                message: format!("there is no service `{service}`"),
            }
        }
        Request::Stop { service } => {
            runtime.stop(&service).await;
            Reply::Done
        }
        Request::Restart { service } => match runtime.restart(&service).await {
            Ok(()) => Reply::Done,
            Err(failure) => Reply::Error {
                message: failure.to_string(),
            },
        },
        Request::Down => Reply::Done,
    }
}

/// Sends one request to the berth serving `path`.
pub fn request(path: &Path, request: &Request) -> std::io::Result<Reply> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut text = serde_json::to_string(request).expect("requests serialize");
    text.push('\n');
    stream.write_all(text.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

pub fn uptime(since: Option<SystemTime>) -> Option<u64> {
    since
        .and_then(|since| since.elapsed().ok())
        .map(|d| d.as_secs())
}
