//! The deploy gate: a deployment that runs a job against a data store with a
//! recovery point objective waits for a backup of the store newer than it, so
//! that what a migration does can be undone to within the objective.

use std::time::{Duration, SystemTime};

use berth_core::Ecosystem;
use berth_core::model::Kind;
use berth_engine::deploy::{Action, DeployPlan};

use super::{BackupError, Shelves};

/// A store a deployment's job runs against whose newest backup is older
/// than its RPO (or missing).
#[derive(Debug, PartialEq)]
pub struct Stale {
    pub store: String,
    pub job: String,
    pub rpo: Duration,
    /// How old its newest backup is; None without one.
    pub age: Option<Duration>,
}

/// The stores `plan`'s added or changed jobs depend on whose newest backup
/// on their shelf is older than their `backup.rpo`, as of `now`.
pub fn stale_before(
    plan: &DeployPlan,
    ecosystem: &Ecosystem,
    shelves: &Shelves,
    now: SystemTime,
) -> Result<Vec<Stale>, BackupError> {
    let mut stale = Vec::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Add | Action::Update) {
            continue;
        }
        let Some(job) = ecosystem.services.get(&change.service) else {
            continue;
        };
        if job.kind != Kind::Job {
            continue;
        }
        for store in job.depends_on.names() {
            // A store this deployment makes holds nothing to lose yet.
            let made = plan
                .changes
                .iter()
                .any(|c| c.service == store && c.action == Action::Add);
            if made {
                continue;
            }
            let Some(rpo) = ecosystem
                .services
                .get(store)
                .and_then(|s| s.backup.as_ref())
                .and_then(|b| b.rpo)
            else {
                continue;
            };
            let age = shelves
                .of(store)?
                .backups()?
                .last()
                .map(|newest| now.duration_since(newest.taken()).unwrap_or_default());
            if age.is_none_or(|age| age > rpo.0) {
                stale.push(Stale {
                    store: store.to_owned(),
                    job: change.service.clone(),
                    rpo: rpo.0,
                    age,
                });
            }
        }
    }
    Ok(stale)
}
