//! A deployment to a cluster: what runs and what is to run worked out from the
//! cluster's history, the pre-flight, then under the environment's Lease the
//! objects applied in order ([`crate::traversal`]); a failure puts back what
//! the deployment changed ([`crate::restore`]), and its record, timeline and
//! object set are kept in the cluster.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_core::{Ecosystem, Problems};
use berth_engine::deploy::{DeployPlan, plan_deploy};
use berth_engine::history::{Entry, Outcome, Record, Trigger, now};
use berth_engine::{Deployed, Target};
use serde_json::Value;

use crate::apply::{apply, forbidden};
use crate::autoscaled::keep_live_replicas;
use crate::environment::Environment;
use crate::lease::{self, Held};
use crate::object_set::ObjectSet;
use crate::owner::service_of;
use crate::preflight::{self, Missing};
use crate::prune;
use crate::restore::{heal, restore};
use crate::strategy::Told;
use crate::timeline::Timeline;
use crate::traversal::apply_in_order;

/// What to deploy: berth.yaml as it is, or a stored deployment again.
pub struct Request {
    pub ecosystem: Arc<Ecosystem>,
    /// berth.yaml's text as deployed, kept in the history.
    pub source: String,
    pub trigger: Trigger,
    pub reason: Option<String>,
    /// Services to deploy; none: every one that changed.
    pub services: Vec<String>,
    /// A rollback's object set, as deployment N applied it.
    pub stored: Option<Vec<Value>>,
    pub prune: bool,
    pub no_wait: bool,
    /// The commit berth.yaml was at, and its time.
    pub commit: (Option<String>, Option<i64>),
    /// Asked about the plan before anything is applied; it may refuse it.
    pub gate: Option<Gate>,
}

/// A check of a deployment's plan that may refuse it, with what to do.
pub type Gate = Box<dyn Fn(&DeployPlan) -> Result<(), Problems> + Send + Sync>;

/// What a deployment says as it goes.
pub enum Said<'a> {
    Plan(&'a DeployPlan),
    Entry(&'a Entry),
    /// A workload's state while it is waited for.
    Progress(&'a str, &'a str),
}

pub type Show<'a> = &'a (dyn Fn(Said) + Sync);

/// How a deployment ended; no number when there was nothing to do.
#[derive(Debug)]
pub struct Ended {
    pub number: Option<u64>,
    pub outcome: Outcome,
}

/// Why a deployment did not begin.
#[derive(Debug)]
pub enum Refused {
    Missing(Vec<Missing>),
    Locked(String),
    /// The request's gate refused the plan.
    Gated(Problems),
    Other(String),
}

impl From<String> for Refused {
    fn from(message: String) -> Refused {
        Refused::Other(message)
    }
}

/// What runs now and what is to run: the plan between them and both object sets.
pub struct Prepared {
    pub target: Target,
    pub plan: DeployPlan,
    pub objects: ObjectSet,
    /// Every deployment the environment's history has, and the last good one.
    pub records: Vec<Record>,
    pub last: Option<Record>,
    /// The objects the last good deployment applied, and those it left in the
    /// cluster; none before the first.
    pub last_applied: Vec<Value>,
    pub last_left: Vec<Value>,
}

/// Works out the deployment without changing anything.
pub async fn prepare(environment: &Environment, request: &Request) -> Result<Prepared, String> {
    let target = Target::of(request.ecosystem.clone());
    let records = environment.history.all().await?;
    let last = records
        .iter()
        .rev()
        .find(|r| r.outcome == Outcome::Succeeded)
        .cloned();
    let (current, last_applied, last_left) = match &last {
        Some(record) => {
            let (applied, left) = environment.history.stored(record.number).await?;
            let mut current = deployed_by(record)?;
            without_gone(environment, &applied, &mut current).await?;
            (current, applied, left)
        }
        None => (Deployed::default(), Vec::new(), Vec::new()),
    };
    let plan = plan_deploy(&current, &target, &request.services);
    let objects = match &request.stored {
        Some(stored) => ObjectSet::group(stored.clone()),
        None => ObjectSet::render(&request.ecosystem, &target, &environment.owner),
    };
    let mut objects = if request.services.is_empty() {
        objects
    } else {
        objects.only(&request.services)
    };
    // In an environment deployed before, an autoscaler may have scaled what runs.
    if last.is_some() {
        keep_live_replicas(&environment.kinds, &mut objects).await?;
    }
    Ok(Prepared {
        target,
        plan,
        objects,
        records,
        last,
        last_applied,
        last_left,
    })
}

/// What `record`'s deployment left running, from the berth.yaml it kept.
fn deployed_by(record: &Record) -> Result<Deployed, String> {
    let project = berth_core::load_str("berth.yaml (as deployed)", &record.source)
        .map_err(|p| p.to_string())?;
    let ecosystem = project
        .ecosystem(Some(&record.environment))
        .map_err(|p| p.to_string())?;
    Ok(Target::of(Arc::new(ecosystem.clone())).deployed())
}

/// Applies `namespace`, unless the user may not: one whose rights are those a
/// RoleBinding gives in the namespace (the way teams share a cluster) cannot
/// make it, and uses it as someone who could made it — if nobody did, the
/// first object applied into it says so.
async fn make_namespace(environment: &Environment, namespace: &Value) -> Result<(), String> {
    match apply(&environment.kinds, namespace, false).await {
        Err(e) if forbidden(&e) => Ok(()),
        other => other.map(drop),
    }
}

/// Leaves out of `current` each service whose Deployment or StatefulSet, as
/// the last good deployment `applied` it, the cluster no longer has — taken away by
/// `berth down` or by hand — so that it is deployed again as new. A Job is
/// not asked after: one may go once it has run (`ttlSecondsAfterFinished`).
async fn without_gone(
    environment: &Environment,
    applied: &[Value],
    current: &mut Deployed,
) -> Result<(), String> {
    for object in applied {
        if !matches!(object["kind"].as_str(), Some("Deployment" | "StatefulSet")) {
            continue;
        }
        let Some(service) = service_of(object) else {
            continue;
        };
        if current.services.contains_key(service) && environment.kinds.live(object).await?.is_none()
        {
            current.services.shift_remove(service);
        }
    }
    Ok(())
}

/// What `objects` reference that the cluster lacks.
pub async fn preflight(
    environment: &Environment,
    objects: &[Value],
) -> Result<Vec<Missing>, String> {
    preflight::missing(&environment.cluster.client, &environment.kinds, objects).await
}

/// Runs the deployment.
pub async fn deploy(
    environment: &Environment,
    request: &Request,
    show: Show<'_>,
) -> Result<Ended, Refused> {
    let prepared = prepare(environment, request).await?;
    show(Said::Plan(&prepared.plan));
    if let Some(gate) = &request.gate {
        gate(&prepared.plan).map_err(Refused::Gated)?;
    }
    let missing = preflight(environment, &prepared.objects.to_vec()).await?;
    if !missing.is_empty() {
        return Err(Refused::Missing(missing));
    }
    // A deployment of chosen services leaves the others' objects alone.
    let leftover = if request.services.is_empty() {
        prune::leftover(environment, &prepared).await?
    } else {
        Vec::new()
    };
    // A deployment a killed berth left running is healed even when nothing changed.
    let nothing = |prepared: &Prepared| {
        prepared.plan.changes.is_empty()
            && (leftover.is_empty() || !request.prune)
            && !prepared
                .records
                .iter()
                .any(|r| r.outcome == Outcome::Running)
    };
    if nothing(&prepared) {
        return Ok(Ended {
            number: None,
            outcome: Outcome::Succeeded,
        });
    }
    for namespace in prepared
        .objects
        .shared
        .iter()
        .filter(|o| o["kind"] == "Namespace")
    {
        make_namespace(environment, namespace).await?;
    }
    let (held, waited) = lock(environment, request.no_wait, show).await?;
    // What was read before the lock is stale if someone held it, or was still
    // deploying then: read again, under the lock.
    let stale = waited
        || prepared
            .records
            .iter()
            .any(|r| r.outcome == Outcome::Running);
    let prepared = if stale {
        prepare(environment, request).await?
    } else {
        prepared
    };
    let ended = if nothing(&prepared) {
        Ok(Ended {
            number: None,
            outcome: Outcome::Succeeded,
        })
    } else {
        run(environment, request, &prepared, &leftover, &held.told, show).await
    };
    held.release().await;
    ended
}

/// The environment's lease, and whether another berth held it first.
async fn lock(
    environment: &Environment,
    no_wait: bool,
    show: Show<'_>,
) -> Result<(Held, bool), Refused> {
    let holder = format!(
        "{}@{} (pid {})",
        std::env::var("USER").unwrap_or_else(|_| "someone".to_owned()),
        std::fs::read_to_string("/etc/hostname")
            .map_or("a host".to_owned(), |h| h.trim().to_owned()),
        std::process::id()
    );
    let mut told = false;
    loop {
        match lease::acquire(
            &environment.cluster.client,
            &environment.namespace,
            &environment.owner.environment,
            &holder,
        )
        .await?
        {
            Ok(held) => return Ok((held, told)),
            Err(by) if no_wait => {
                return Err(Refused::Locked(format!(
                    "another deployment of `{}` is under way: {} holds its lease for {}s more",
                    environment.owner.environment,
                    by.holder,
                    by.expires_in.as_secs()
                )));
            }
            Err(by) => {
                if !told {
                    show(Said::Progress(
                        "berth",
                        &format!("waiting for the deployment {} runs", by.holder),
                    ));
                    told = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

async fn run(
    environment: &Environment,
    request: &Request,
    prepared: &Prepared,
    leftover: &[Value],
    told: &Told,
    show: Show<'_>,
) -> Result<Ended, Refused> {
    let interrupted: Vec<Record> = prepared
        .records
        .iter()
        .filter(|r| r.outcome == Outcome::Running)
        .cloned()
        .collect();
    environment
        .history
        .interrupt(&prepared.records, now())
        .await?;
    let changed: Vec<String> = prepared
        .plan
        .changes
        .iter()
        .map(|c| c.service.clone())
        .collect();
    let record = Record::begun(
        &prepared.target,
        request.trigger,
        &changed,
        request.source.clone(),
        request.reason.clone(),
        prepared.last.as_ref().map(|r| r.revision.clone()),
        request.commit.clone(),
    );
    let number = environment
        .history
        .begin_with(&record, &prepared.objects.to_vec(), &prepared.records)
        .await?;
    let timeline = Timeline {
        show,
        pending: Mutex::new(Vec::new()),
        written: Mutex::new(Instant::now()),
    };
    if !interrupted.is_empty() {
        heal(environment, prepared, &interrupted, &timeline).await;
    }
    let (outcome, left) = match apply_in_order(environment, prepared, &timeline, told, number).await
    {
        Ok(()) => {
            prune::report(
                environment,
                leftover,
                request.prune,
                &timeline_say(&timeline),
            )
            .await;
            let left = if request.prune {
                Vec::new()
            } else {
                leftover.to_vec()
            };
            (Outcome::Succeeded, left)
        }
        Err((failure, done)) => {
            let restored = restore(environment, prepared, &timeline, &failure, &done).await;
            let outcome = if told.borrow().abort {
                Outcome::Aborted
            } else {
                restored
            };
            // Restored to the last good set: what it left is still left.
            (outcome, leftover.to_vec())
        }
    };
    let last_lines = std::mem::take(&mut *timeline.pending.lock().expect("timeline"));
    environment
        .history
        .finish_with(number, &last_lines, &left, outcome, now())
        .await?;
    Ok(Ended {
        number: Some(number),
        outcome,
    })
}

fn timeline_say<'a>(timeline: &'a Timeline<'a>) -> impl Fn(String) + 'a {
    move |line| timeline.say(None, line, None)
}
