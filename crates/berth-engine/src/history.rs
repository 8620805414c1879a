//! What is remembered of every deployment, and the storage port behind it — a
//! small driver interface as Helm's storage has, so that a local database and a
//! cluster can each keep an environment's history.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use berth_core::revision::{Change, Revision, diff_settings};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::analysis::Measurement;
use crate::target::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Under way: only while the process that runs it holds the environment's lock.
    Running,
    Succeeded,
    Failed,
    /// A step failed and the previous revision was restored.
    RolledBack,
    /// Stopped by `berth abort`; the previous revision was restored.
    Aborted,
    /// Its berth ended before it did (killed, crashed, the machine stopped).
    Interrupted,
}

impl Outcome {
    /// What DORA counts as a change failure.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::RolledBack | Outcome::Aborted
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Running => "running",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled back",
            Outcome::Aborted => "aborted",
            Outcome::Interrupted => "interrupted",
        })
    }
}

/// What set a deployment off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `berth up`: the first revision of a session.
    Up,
    Deploy,
    Rollback,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Up => "up",
            Trigger::Deploy => "deploy",
            Trigger::Rollback => "rollback",
        })
    }
}

/// One service as a deployment left it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub revision: Revision,
    pub replicas: u32,
    pub strategy: String,
    /// Its resolved settings, `path = value`: what `history show --diff` compares.
    pub settings: BTreeMap<String, String>,
}

/// A deployment, as it is begun.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Numbered from 1 per environment, as Helm numbers releases.
    pub number: u64,
    pub environment: String,
    pub trigger: Trigger,
    pub revision: Revision,
    pub previous: Option<Revision>,
    pub services: IndexMap<String, ServiceRecord>,
    /// The services this deployment changed.
    pub changed: Vec<String>,
    /// berth.yaml as deployed, so that a rollback re-applies what ran.
    pub source: String,
    pub user: String,
    pub commit: Option<String>,
    /// Unix seconds of the commit, for lead time.
    pub commit_time: Option<i64>,
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub started: i64,
    pub ended: Option<i64>,
    pub outcome: Outcome,
}

impl Record {
    /// A deployment of `target` as it begins; the history numbers it.
    pub fn begun(
        target: &Target,
        trigger: Trigger,
        changed: &[String],
        source: String,
        reason: Option<String>,
        previous: Option<Revision>,
        (commit, commit_time): (Option<String>, Option<i64>),
    ) -> Record {
        Record {
            number: 0,
            environment: target.ecosystem.environment_name.clone(),
            trigger,
            revision: target.revision.clone(),
            previous,
            services: target
                .revisions
                .iter()
                .map(|(name, revision)| {
                    let spec = &target.ecosystem.services[name];
                    (
                        name.clone(),
                        ServiceRecord {
                            revision: revision.clone(),
                            replicas: target.replicas(name),
                            strategy: crate::strategy::effective(spec.kind, &spec.rollout)
                                .to_string(),
                            settings: target.workloads[name].settings(),
                        },
                    )
                })
                .collect(),
            changed: changed.to_vec(),
            source,
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
            commit,
            commit_time,
            reason,
            started: now(),
            ended: None,
            outcome: Outcome::Running,
        }
    }
}

/// Every setting that differs between two deployments, `service: setting`.
pub fn changes(from: &Record, to: &Record) -> Vec<Change> {
    let names: BTreeSet<&String> = from.services.keys().chain(to.services.keys()).collect();
    let empty = BTreeMap::new();
    names
        .into_iter()
        .flat_map(|name| {
            let before = from.services.get(name).map_or(&empty, |s| &s.settings);
            let after = to.services.get(name).map_or(&empty, |s| &s.settings);
            diff_settings(before, after)
                .into_iter()
                .map(move |change| Change {
                    setting: format!("{name}: {}", change.setting),
                    ..change
                })
        })
        .collect()
}

/// Why an automatic decision was taken, kept with the step that took it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub thresholds: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub last_lines: Vec<String>,
}

/// One line of a deployment's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unix milliseconds.
    pub at: i64,
    pub service: Option<String>,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Where deployments are kept.
pub trait History: Send + Sync {
    /// Stores a new record as `Running` and returns its number.
    fn begin(&self, record: &Record) -> Result<u64, String>;
    fn append(&self, environment: &str, number: u64, entry: &Entry) -> Result<(), String>;
    fn finish(
        &self,
        environment: &str,
        number: u64,
        outcome: Outcome,
        ended: i64,
    ) -> Result<(), String>;
    /// Every record of the environment, oldest first.
    fn list(&self, environment: &str) -> Result<Vec<Record>, String>;
    fn timeline(&self, environment: &str, number: u64) -> Result<Vec<Entry>, String>;
    /// Marks `Running` records as interrupted: called by whoever just took the
    /// environment's lock, so none of them can still be under way.
    fn interrupt_running(&self, environment: &str, now: i64) -> Result<Vec<u64>, String>;
}

/// Unix milliseconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The commit checked out where berth.yaml is, and its commit time.
pub fn git_head(dir: &std::path::Path) -> (Option<String>, Option<i64>) {
    let output = std::process::Command::new("git")
        .args(["log", "-1", "--format=%H %ct"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output();
    let Some(output) = output.ok().filter(|o| o.status.success()) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace();
    (
        parts.next().map(str::to_owned),
        parts.next().and_then(|t| t.parse().ok()),
    )
}
