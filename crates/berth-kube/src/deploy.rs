//! A deployment to a cluster: pre-flight, then under the environment's lease
//! the objects applied in plan order — what belongs to no service first, then
//! each wave of services, data stores and jobs before what depends on them —
//! each wave waited for on real status before the next. A failed wave puts back
//! what this deployment changed, from the object set the last good deployment
//! stored, and the whole timeline is kept in the cluster's history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_core::Ecosystem;
use berth_core::plan::{self, Selection, Wait};
use berth_engine::deploy::{Action, DeployPlan, plan_deploy};
use berth_engine::history::{Entry, Evidence, Outcome, Record, Trigger, now};
use berth_engine::{Deployed, Failure, Target};
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use kube::api::{DeleteParams, DynamicObject};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;
use tokio::sync::watch;

use crate::apply::{apply, said};
use crate::environment::Environment;
use crate::lease::{self, Held};
use crate::object_set::ObjectSet;
use crate::owner::describe;
use crate::preflight::{self, Missing};
use crate::prune;
use crate::strategy::{self, Own, Told};
use crate::wait::{Workload, WorkloadKind, settle};

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
}

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
    let current = match &last {
        Some(record) => deployed_by(record)?,
        None => Deployed::default(),
    };
    let plan = plan_deploy(&current, &target, &request.services);
    let objects = match &request.stored {
        Some(stored) => ObjectSet::group(stored.clone()),
        None => ObjectSet::render(&request.ecosystem, &target, &environment.owner),
    };
    let objects = if request.services.is_empty() {
        objects
    } else {
        objects.only(&request.services)
    };
    Ok(Prepared {
        target,
        plan,
        objects,
        records,
        last,
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
    if prepared.plan.changes.is_empty() && (leftover.is_empty() || !request.prune) {
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
        apply(&environment.kinds, namespace, false).await?;
    }
    let held = lock(environment, request.no_wait, show).await?;
    let ended = run(environment, request, &prepared, &leftover, &held.told, show).await;
    held.release().await;
    ended
}

async fn lock(environment: &Environment, no_wait: bool, show: Show<'_>) -> Result<Held, Refused> {
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
            Ok(held) => return Ok(held),
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

/// The timeline as it happens: shown at once, written to the cluster after
/// each wave, so a killed berth loses at most one wave's lines.
struct Timeline<'a> {
    show: Show<'a>,
    pending: Mutex<Vec<Entry>>,
    written: Mutex<Instant>,
}

impl Timeline<'_> {
    fn say(&self, service: Option<&str>, what: impl Into<String>, evidence: Option<Evidence>) {
        let entry = Entry {
            at: now(),
            service: service.map(str::to_owned),
            what: what.into(),
            evidence,
        };
        (self.show)(Said::Entry(&entry));
        self.pending.lock().expect("timeline").push(entry);
    }

    /// Writes what was said to the cluster when the last write is a while ago:
    /// a killed berth loses at most that much of its timeline, and a quick
    /// deployment writes its timeline once, at the end.
    async fn flush_if_due(&self, environment: &Environment, number: u64) {
        if self.written.lock().expect("timeline").elapsed() < FLUSH_EVERY {
            return;
        }
        let entries: Vec<Entry> = std::mem::take(&mut *self.pending.lock().expect("timeline"));
        if !entries.is_empty()
            && environment
                .history
                .append_entries(number, &entries)
                .await
                .is_ok()
        {
            *self.written.lock().expect("timeline") = Instant::now();
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

/// Applies every object, wave by wave; on a failure, which services this
/// deployment had changed by then.
async fn apply_in_order(
    environment: &Environment,
    prepared: &Prepared,
    timeline: &Timeline<'_>,
    told: &Told,
    number: u64,
) -> Result<(), (Failure, Vec<String>)> {
    let fail = |message: String| Failure::new("berth", message);
    // First, at once: what belongs to no service, the stand-ins of what the
    // environment keeps outside, and every changing service's objects that run
    // nothing (configuration, Services, access, policies). Only workloads wait
    // for what they depend on. Namespaces were applied before the lock.
    let outside = prepared
        .objects
        .services
        .iter()
        .filter(|(service, _)| !prepared.target.revisions.contains_key(*service))
        .flat_map(|(_, objects)| objects);
    let settings = prepared
        .objects
        .services
        .iter()
        .filter(|(service, _)| changes(prepared, service))
        .flat_map(|(_, objects)| objects.iter().filter(|o| !is_workload(o)));
    let first: Vec<&Value> = prepared
        .objects
        .shared
        .iter()
        .filter(|o| o["kind"] != "Namespace")
        .chain(outside)
        .chain(settings)
        .collect();
    stream::iter(first)
        .map(|object| apply(&environment.kinds, object, false))
        .buffer_unordered(AT_ONCE)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| (fail(e), Vec::new()))?;
    let ecosystem = &prepared.target.ecosystem;
    let all = plan::plan(
        ecosystem,
        &Selection {
            services: ecosystem.services.keys().cloned().collect(),
            pre: Vec::new(),
            post: Vec::new(),
        },
    );
    // One traversal, as docker compose starts services: each service goes as
    // soon as what it depends on has settled, not when a whole wave has.
    let steps: Vec<&plan::Step> = all
        .services()
        .filter(|step| prepared.objects.services.contains_key(&step.service))
        .collect();
    let settled: HashMap<&str, watch::Sender<Option<bool>>> = steps
        .iter()
        .map(|step| (step.service.as_str(), watch::channel(None).0))
        .collect();
    let stopping = AtomicBool::new(false);
    let started: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let results = join_all(steps.iter().map(|step| async {
        let service = step.service.as_str();
        let mut outcome = Ok(false);
        if gates_met(&settled, step).await && !stopping.load(Ordering::SeqCst) {
            outcome = if changes(prepared, service) {
                started.lock().expect("started").push(service.to_owned());
                let rolled = roll_out(environment, prepared, service, timeline, told).await;
                timeline.flush_if_due(environment, number).await;
                rolled.map(|()| true)
            } else {
                Ok(true)
            };
        }
        if outcome.is_err() {
            stopping.store(true, Ordering::SeqCst);
        }
        settled[service].send_replace(Some(matches!(outcome, Ok(true))));
        outcome
    }))
    .await;
    let started = started.into_inner().expect("started");
    match results.into_iter().find_map(Result::err) {
        Some(failure) => Err((failure, started)),
        None => Ok(()),
    }
}

/// Waits for what `step` depends on; false when any of it failed or never went.
async fn gates_met(
    settled: &HashMap<&str, watch::Sender<Option<bool>>>,
    step: &plan::Step,
) -> bool {
    for gate in &step.after {
        if gate.condition == Wait::External {
            continue;
        }
        let Some(sender) = settled.get(gate.service.as_str()) else {
            continue;
        };
        let mut receiver = sender.subscribe();
        match receiver.wait_for(Option::is_some).await {
            Ok(went) if *went == Some(true) => {}
            _ => return false,
        }
    }
    true
}

fn is_workload(object: &Value) -> bool {
    object["kind"].as_str().and_then(WorkloadKind::of).is_some()
}

/// Applies in flight at once: enough to hide the round trips, few enough not
/// to crowd an API server's queue.
const AT_ONCE: usize = 8;

fn changes(prepared: &Prepared, service: &str) -> bool {
    prepared
        .plan
        .changes
        .iter()
        .any(|c| c.service == service && c.action != Action::Remove)
}

/// One service: its objects applied under its rollout strategy, and waited for.
async fn roll_out(
    environment: &Environment,
    prepared: &Prepared,
    service: &str,
    timeline: &Timeline<'_>,
    told: &Told,
) -> Result<(), Failure> {
    let change = prepared
        .plan
        .changes
        .iter()
        .find(|c| c.service == service)
        .expect("only changing services roll out");
    timeline.say(
        Some(service),
        format!(
            "{} {} ({}, {} instances)",
            format!("{:?}", change.action).to_lowercase(),
            change
                .to
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string),
            change.strategy,
            change.replicas
        ),
        None,
    );
    let spec = &prepared.target.ecosystem.services[service];
    let say = |what: String| timeline.say(Some(service), what, None);
    let progress = |what: &str| (timeline.show)(Said::Progress(service, what));
    let all = &prepared.objects.services[service];
    match strategy::own(change, spec) {
        Some(Own::Canary) => {
            strategy::canary::run(environment, all, spec, change, told, &say, &progress).await?
        }
        Some(Own::BlueGreen) => {
            strategy::blue_green::run(environment, all, spec, change, told, &say, &progress)
                .await?;
        }
        None => {
            // Its other objects went first, with every changing service's.
            let workloads: Vec<Value> = all.iter().filter(|o| is_workload(o)).cloned().collect();
            let applied = apply_service(environment, &workloads)
                .await
                .map_err(|e| Failure::new(service, e))?;
            let workloads = with_applied(prepared.objects.workloads(service), &applied);
            await_service(environment, &workloads, spec, &progress).await?;
        }
    }
    timeline.say(Some(service), "ready", None);
    Ok(())
}

/// Applies one service's objects, as the server returned them; a changed Job
/// is made anew, since a Job's pod template cannot change.
pub async fn apply_service(
    environment: &Environment,
    objects: &[Value],
) -> Result<Vec<DynamicObject>, String> {
    let mut applied = Vec::with_capacity(objects.len());
    for object in objects {
        if object["kind"] == "Job" {
            replace_job(environment, object).await?;
        }
        applied.push(apply(&environment.kinds, object, false).await?);
    }
    Ok(applied)
}

/// The workloads, each with what its apply returned, to be judged and watched from.
pub fn with_applied(workloads: Vec<Workload>, applied: &[DynamicObject]) -> Vec<Workload> {
    workloads
        .into_iter()
        .map(|mut workload| {
            workload.applied = applied
                .iter()
                .find(|object| {
                    object.metadata.name.as_deref() == Some(workload.name.as_str())
                        && object
                            .types
                            .as_ref()
                            .is_some_and(|t| WorkloadKind::of(&t.kind) == Some(workload.kind))
                })
                .and_then(|object| serde_json::to_value(object).ok());
            workload
        })
        .collect()
}

/// Deletes the live Job when it runs another revision, and waits until it is gone.
async fn replace_job(environment: &Environment, object: &Value) -> Result<(), String> {
    let api = environment.kinds.api_for(object).await?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(live) = api.get_opt(name).await.map_err(|e| said(&e))? else {
        return Ok(());
    };
    let revision = |labels: Option<&Value>| {
        labels
            .and_then(|l| l.get(crate::owner::REVISION))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let live_labels = serde_json::to_value(&live.metadata.labels).ok();
    if revision(live_labels.as_ref()) == revision(object.pointer("/metadata/labels")) {
        return Ok(());
    }
    let uid = live.metadata.uid.clone().unwrap_or_default();
    api.delete(name, &DeleteParams::background())
        .await
        .map_err(|e| format!("replacing {}: {}", describe(object), said(&e)))?;
    let gone = await_condition(api, name, conditions::is_deleted(&uid));
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .map_err(|_| format!("{} was not deleted within 60s", describe(object)))?
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Waits for a service's workloads; a job has a deadline of its own.
pub async fn await_service(
    environment: &Environment,
    workloads: &[Workload],
    spec: &berth_core::model::Service,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), Failure> {
    for workload in workloads {
        let deadline = match workload.kind {
            WorkloadKind::Job => spec.rollout.progress_deadline().max(JOB_DEADLINE),
            _ => spec.rollout.progress_deadline(),
        };
        settle(&environment.cluster.client, workload, deadline, progress).await?;
    }
    Ok(())
}

/// How often a long deployment writes its timeline to the cluster.
const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// How long a job may run when berth.yaml sets no progress deadline longer.
const JOB_DEADLINE: Duration = Duration::from_secs(600);

/// Puts back what a failed deployment changed: each service's objects as the
/// last good deployment applied them, or, for a service it added, none.
async fn restore(
    environment: &Environment,
    prepared: &Prepared,
    timeline: &Timeline<'_>,
    failure: &Failure,
    done: &[String],
) -> Outcome {
    timeline.say(
        Some(&failure.service),
        format!("failed: {}", failure.message),
        Some(Evidence {
            reason: failure.message.clone(),
            last_lines: failure.last_lines.clone(),
            ..Evidence::default()
        }),
    );
    let previous = match &prepared.last {
        Some(record) => match environment.history.objects(record.number).await {
            Ok(objects) => ObjectSet::group(objects),
            Err(e) => {
                timeline.say(None, format!("cannot restore: {e}"), None);
                return Outcome::Failed;
            }
        },
        None => ObjectSet::default(),
    };
    let mut restored = true;
    for service in done.iter().rev() {
        let result = match previous.services.get(service) {
            Some(objects) => {
                timeline.say(Some(service), "restoring the previous revision", None);
                let progress = |what: &str| (timeline.show)(Said::Progress(service, what));
                let spec = prepared.target.ecosystem.services.get(service);
                match (apply_service(environment, objects).await, spec) {
                    (Ok(applied), Some(spec)) => {
                        let workloads = with_applied(previous.workloads(service), &applied);
                        await_service(environment, &workloads, spec, &progress).await
                    }
                    (Ok(_), None) => Ok(()),
                    (Err(e), _) => Err(Failure::new(service, e)),
                }
            }
            None => {
                timeline.say(
                    Some(service),
                    "removing it: no earlier deployment had it",
                    None,
                );
                prune::delete(environment, &prepared.objects.services[service]).await;
                Ok(())
            }
        };
        if let Err(e) = result {
            timeline.say(
                Some(service),
                format!("restore failed: {}", e.message),
                None,
            );
            restored = false;
        }
    }
    match (restored, prepared.last.is_some()) {
        (true, true) => Outcome::RolledBack,
        _ => Outcome::Failed,
    }
}
