//! The control API: how `berth status`, `stop`, `restart`, `deploy`,
//! `rollback`, `promote`, `abort`, `down` and the dashboard talk to a running
//! berth, foreground or detached. It is HTTP on the Unix socket
//! `.berth/berth.sock` (the socket's file mode is the access check, as Docker's
//! is); the dashboard serves the same routes on its loopback port behind its
//! token. Every answer is a stream of JSON lines, one [`Reply`] each: a single
//! one for most requests, a line per timeline entry and then the result for a
//! deployment; `GET /v1/events` is server-sent events, a status whenever it changes.

mod client;
mod serve;

pub use client::{Client, events, request, stream};
pub use serve::serve;

use std::time::SystemTime;

use berth_engine::deploy::DeployPlan;
use berth_engine::history::Entry;
use serde::{Deserialize, Serialize};

use crate::deployer::{Ask, DeployResult};

/// What a client asks of a running berth.
#[derive(Debug)]
pub enum Request {
    Status,
    /// How far `up` has come, without the instances: what `up -d` asks while it
    /// waits, which with a thousand instances is a thousandth of the status.
    Progress,
    Stop {
        service: String,
    },
    Restart {
        service: String,
    },
    Deploy(Ask),
    Promote,
    Abort,
    Down,
}

impl Request {
    /// The method and path that carry this request, and its JSON body.
    pub fn route(&self) -> (&'static str, String, Option<String>) {
        let service = |service: &str, verb: &str| {
            format!(
                "/v1/services/{}/{verb}",
                berth_engine::percent_encoded(service)
            )
        };
        match self {
            Request::Status => ("GET", "/v1/status".to_owned(), None),
            Request::Progress => ("GET", "/v1/progress".to_owned(), None),
            Request::Stop { service: name } => ("POST", service(name, "stop"), None),
            Request::Restart { service: name } => ("POST", service(name, "restart"), None),
            Request::Deploy(ask) => (
                "POST",
                "/v1/deploy".to_owned(),
                Some(serde_json::to_string(ask).expect("asks serialize")),
            ),
            Request::Promote => ("POST", "/v1/promote".to_owned(), None),
            Request::Abort => ("POST", "/v1/abort".to_owned(), None),
            Request::Down => ("POST", "/v1/down".to_owned(), None),
        }
    }
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
    Progress {
        progress: Progress,
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

pub fn uptime(since: Option<SystemTime>) -> Option<u64> {
    since
        .and_then(|since| since.elapsed().ok())
        .map(|d| d.as_secs())
}
