//! What the dashboard shows: one environment of an ecosystem, its plan, the
//! berth that runs it (through the control API) and what `.berth/` keeps.

use std::path::PathBuf;
use std::sync::OnceLock;

use berth_core::Ecosystem;
use berth_core::plan::Plan;
use berth_engine::history::{Entry, History, Record};
use berth_history::SqliteHistory;
use berth_local::{Client, InstanceReport, Reply, Request, RolloutReport};

pub struct Project {
    pub ecosystem: Ecosystem,
    pub plan: Plan,
    /// `.berth/` beside berth.yaml.
    pub state_dir: PathBuf,
    pub client: Client,
    /// Opened at the first look once `.berth/` is there; never made by looking.
    history: OnceLock<SqliteHistory>,
}

/// What the running berth says of its instances and rollouts.
pub struct Live {
    pub instances: Vec<InstanceReport>,
    pub rollouts: Vec<RolloutReport>,
}

impl Project {
    pub fn new(ecosystem: Ecosystem, plan: Plan, state_dir: PathBuf) -> Project {
        let client = Client::new(&state_dir.join("berth.sock"));
        Project {
            ecosystem,
            plan,
            state_dir,
            client,
            history: OnceLock::new(),
        }
    }

    pub fn environment(&self) -> &str {
        &self.ecosystem.environment_name
    }

    /// The running berth's status; `None` when no berth answers here.
    pub async fn live(&self) -> Option<Live> {
        match self.client.reply(&Request::Status).await.ok()? {
            Reply::Status {
                instances,
                rollouts,
                ..
            } => Some(Live {
                instances,
                rollouts,
            }),
            _ => None,
        }
    }

    /// The environment's deployments, oldest first; none before the first `berth up`.
    pub fn records(&self) -> Result<Vec<Record>, String> {
        if !self.state_dir.exists() {
            return Ok(Vec::new());
        }
        self.history()?.list(self.environment())
    }

    pub fn timeline(&self, number: u64) -> Result<Vec<Entry>, String> {
        self.history()?.timeline(self.environment(), number)
    }

    fn history(&self) -> Result<&SqliteHistory, String> {
        if let Some(history) = self.history.get() {
            return Ok(history);
        }
        let opened = SqliteHistory::open(&self.state_dir)?;
        Ok(self.history.get_or_init(|| opened))
    }
}
