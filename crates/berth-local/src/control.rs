//! The control socket, `.berth/berth.sock`: how `berth status`, `stop`,
//! `restart`, `deploy`, `rollback`, `promote`, `abort` and `down` talk to a
//! running berth, foreground or detached. One JSON request per connection; one
//! JSON reply, or for a deployment a line per timeline entry and then the result.
//! Each connection is served on its own task, so a deployment or a slow client
//! never keeps `status` waiting.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_engine::Runtime;
use berth_engine::history::Entry;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};

use crate::deployer::{Ask, DeployResult, Deployer, Told};
use berth_engine::deploy::DeployPlan;

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Status,
    Stop { service: String },
    Restart { service: String },
    Deploy(Ask),
    Promote,
    Abort,
    Down,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Status {
        progress: Progress,
        instances: Vec<InstanceReport>,
        #[serde(default)]
        rollouts: Vec<RolloutReport>,
    },
    /// What a deployment under way will do.
    Plan(DeployPlan),
    /// One step of a deployment under way.
    Entry(Entry),
    Deployed(DeployResult),
    Done,
    /// Done, and what was done.
    Said {
        message: String,
    },
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
    #[serde(default)]
    pub revision: String,
    pub pid: Option<u32>,
    pub state: String,
    pub ready: bool,
    pub restarts: u32,
    pub port: Option<u16>,
    pub uptime_seconds: Option<u64>,
}

/// A service whose traffic is split between revisions, and its last analysis.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RolloutReport {
    pub service: String,
    pub weights: Vec<(String, u32)>,
    pub analysis: Option<Entry>,
}

/// Answers requests on `path` until a `down` request arrives.
pub async fn serve(
    path: &Path,
    deployer: Arc<Deployer>,
    progress: watch::Receiver<Progress>,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let (down_sender, mut down) = mpsc::channel::<()>(1);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors, most likely: wait, never give up the socket.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = down.recv() => return Ok(()),
        };
        let (deployer, progress, down_sender) =
            (deployer.clone(), progress.clone(), down_sender.clone());
        tokio::spawn(async move {
            if connection(stream, &deployer, &progress).await {
                let _ = down_sender.send(()).await;
            }
        });
    }
}

/// Serves one connection; true when it asked berth to go down.
async fn connection(
    stream: tokio::net::UnixStream,
    deployer: &Deployer,
    progress: &watch::Receiver<Progress>,
) -> bool {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        tokio::io::BufReader::new(read).read_line(&mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(_))) {
        return false;
    }
    let request: Result<Request, _> = serde_json::from_str(&line);
    let send = |reply: Reply| {
        let mut text = serde_json::to_string(&reply).expect("replies serialize");
        text.push('\n');
        text
    };
    let reply = match request {
        Ok(Request::Down) => {
            let _ = write.write_all(send(Reply::Done).as_bytes()).await;
            return true;
        }
        Ok(Request::Deploy(ask)) => {
            let (replies, mut received) = mpsc::unbounded_channel::<Reply>();
            let tell = move |told: Told| {
                let _ = replies.send(match told {
                    Told::Plan(plan) => Reply::Plan(plan.clone()),
                    Told::Entry(entry) => Reply::Entry(entry),
                });
            };
            let deploying = deployer.deploy(&ask, &tell);
            tokio::pin!(deploying);
            let result = loop {
                tokio::select! {
                    result = &mut deploying => break result,
                    Some(reply) = received.recv() => {
                        // A client that went away does not stop the deployment.
                        let _ = write.write_all(send(reply).as_bytes()).await;
                    }
                }
            };
            while let Ok(reply) = received.try_recv() {
                let _ = write.write_all(send(reply).as_bytes()).await;
            }
            match result {
                Ok(result) => Reply::Deployed(result),
                Err(message) => Reply::Error { message },
            }
        }
        Ok(request) => answer(request, deployer, progress).await,
        Err(e) => Reply::Error {
            message: format!("not a request: {e}"),
        },
    };
    let _ = write.write_all(send(reply).as_bytes()).await;
    false
}

async fn answer(
    request: Request,
    deployer: &Deployer,
    progress: &watch::Receiver<Progress>,
) -> Reply {
    let runtime = deployer.runtime.as_ref();
    let known = |service: &str| runtime.units().iter().any(|(u, _)| u.service == service);
    match request {
        Request::Status => Reply::Status {
            progress: progress.borrow().clone(),
            instances: runtime.reports(),
            rollouts: rollouts(deployer),
        },
        Request::Stop { service } | Request::Restart { service } if !known(&service) => {
            Reply::Error {
                message: format!("there is no service `{service}` running"),
            }
        }
        Request::Stop { service } => {
            runtime.stop(&service).await;
            Reply::Done
        }
        Request::Restart { service } => match deployer.restart(&service).await {
            Ok(message) => Reply::Said { message },
            Err(message) => Reply::Error { message },
        },
        Request::Promote => deployer
            .promote()
            .map_or_else(|message| Reply::Error { message }, |()| Reply::Done),
        Request::Abort => deployer
            .abort()
            .map_or_else(|message| Reply::Error { message }, |()| Reply::Done),
        Request::Deploy(_) | Request::Down => unreachable!("answered by the connection"),
    }
}

fn rollouts(deployer: &Deployer) -> Vec<RolloutReport> {
    let runtime = deployer.runtime.as_ref();
    let analyses = deployer.analyses();
    let mut services: Vec<String> = runtime
        .units()
        .into_iter()
        .map(|(u, _)| u.service)
        .collect();
    services.dedup();
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

/// Sends one request to the berth serving `path`.
pub fn request(path: &Path, request: &Request) -> std::io::Result<Reply> {
    let mut replies = Vec::new();
    stream(path, request, &mut |reply| replies.push(reply))?;
    replies
        .pop()
        .ok_or_else(|| std::io::Error::other("no reply"))
}

/// Sends one request and hands every reply line to `each`, the last included.
pub fn stream(path: &Path, request: &Request, each: &mut dyn FnMut(Reply)) -> std::io::Result<()> {
    let mut stream = UnixStream::connect(path)?;
    let mut text = serde_json::to_string(request).expect("requests serialize");
    text.push('\n');
    stream.write_all(text.as_bytes())?;
    for line in BufReader::new(stream).lines() {
        let reply: Reply = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        each(reply);
    }
    Ok(())
}

pub fn uptime(since: Option<SystemTime>) -> Option<u64> {
    since
        .and_then(|since| since.elapsed().ok())
        .map(|d| d.as_secs())
}
