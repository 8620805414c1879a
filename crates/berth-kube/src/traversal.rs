//! The order a deployment goes in: the objects that run nothing first, at
//! once; then one traversal of the plan, as docker compose starts services —
//! each workload goes as soon as what it depends on has settled (jobs
//! completed, stores and services ready), under its own rollout strategy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_core::plan::{self, Selection, Wait};
use berth_engine::Failure;
use berth_engine::deploy::Action;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::sync::watch;

use crate::apply::apply;
use crate::deploy::{Prepared, Said};
use crate::environment::Environment;
use crate::service::{apply_service, await_service, with_applied};
use crate::strategy::{self, Context, Own, Told};
use crate::timeline::Timeline;
use crate::wait::WorkloadKind;

/// Applies every object in order; on a failure, which services this
/// deployment had begun to change by then.
pub async fn apply_in_order(
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
    let changing: Vec<String> = prepared
        .objects
        .services
        .keys()
        .filter(|service| changes(prepared, service))
        .cloned()
        .collect();
    let settings = changing.iter().flat_map(|service| {
        prepared.objects.services[service]
            .iter()
            .filter(|o| !is_workload(o))
    });
    // The server checks a RoleBinding against the Role it names, unless the
    // user may bind any role (cluster-admin may): the Roles go in first.
    let (bindings, first): (Vec<&Value>, Vec<&Value>) = prepared
        .objects
        .shared
        .iter()
        .filter(|o| o["kind"] != "Namespace")
        .chain(outside)
        .chain(settings)
        .partition(|o| o["kind"] == "RoleBinding");
    for tier in [first, bindings] {
        stream::iter(tier)
            .map(|object| apply(&environment.kinds, object, false))
            .buffer_unordered(AT_ONCE)
            .try_collect::<Vec<_>>()
            .await
            // Any changing service's settings may have gone in: all are put back.
            .map_err(|e| (fail(e), changing.clone()))?;
    }
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

pub fn is_workload(object: &Value) -> bool {
    object["kind"].as_str().and_then(WorkloadKind::of).is_some()
}

/// Applies in flight at once: enough to hide the round trips, few enough not
/// to crowd an API server's queue.
const AT_ONCE: usize = 8;

pub fn changes(prepared: &Prepared, service: &str) -> bool {
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
    let context = Context {
        environment,
        objects: all,
        route: strategy::route::routing(&prepared.objects.shared, service),
        spec,
        change,
        told,
        say: &say,
        progress: &progress,
    };
    match strategy::own(change, spec) {
        Some(Own::Canary) => strategy::canary::run(&context).await?,
        Some(Own::BlueGreen) => {
            strategy::blue_green::run(&context).await?;
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
