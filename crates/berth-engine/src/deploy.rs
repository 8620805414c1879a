//! A deployment of an ecosystem: which services change between what runs and
//! what berth.yaml now says, in dependency order, each under its strategy — and,
//! when one fails, every service this deployment changed goes back, so that the
//! ecosystem returns to its previous revision as one.

use berth_core::plan;
use berth_core::revision::{self, Change, Revision};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::analysis::MetricProvider;
use crate::execute::{Control, Journal, ServiceRollout, Stop, note};
use crate::history::{Entry, Evidence, Outcome, now};
use crate::runtime::Runtime;
use crate::strategy::{self, Step};
use crate::target::{Deployed, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Update,
    /// The same revision, another number of replicas.
    Scale,
    Remove,
}

/// One service's part of a deployment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceChange {
    pub service: String,
    pub action: Action,
    pub from: Option<Revision>,
    pub to: Option<Revision>,
    pub from_replicas: Option<u32>,
    pub replicas: u32,
    pub strategy: String,
    /// What changed in its resolved settings.
    pub settings: Vec<Change>,
    pub steps: Vec<Step>,
}

/// What `berth deploy` prints before it acts, and then does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeployPlan {
    pub environment: String,
    pub from: Option<Revision>,
    pub to: Revision,
    /// In the order they deploy: dependencies first; removals last.
    pub changes: Vec<ServiceChange>,
}

/// The changes from `current` (what runs; nothing on a first deploy) to
/// `target`, limited to `selected` services when some are named.
pub fn plan_deploy(current: &Deployed, target: &Target, selected: &[String]) -> DeployPlan {
    let ecosystem = &target.ecosystem;
    let all = plan::plan(
        ecosystem,
        &plan::Selection {
            services: ecosystem.services.keys().cloned().collect(),
            pre: Vec::new(),
            post: Vec::new(),
        },
    );
    let wanted = |service: &str| selected.is_empty() || selected.iter().any(|s| s == service);
    let mut changes: Vec<ServiceChange> = all
        .services()
        .filter(|step| wanted(&step.service))
        .filter_map(|step| change(current, target, &step.service))
        .collect();
    for (service, running) in current.services.iter().rev() {
        if !target.revisions.contains_key(service) && wanted(service) {
            changes.push(ServiceChange {
                service: service.clone(),
                action: Action::Remove,
                from: Some(running.desired.unit.revision.clone()),
                to: None,
                from_replicas: Some(running.replicas),
                replicas: 0,
                strategy: "remove".to_owned(),
                settings: Vec::new(),
                steps: vec![Step::RemoveOld],
            });
        }
    }
    DeployPlan {
        environment: ecosystem.environment_name.clone(),
        from: current.revision(),
        to: target.revision.clone(),
        changes,
    }
}

fn change(current: &Deployed, target: &Target, service: &str) -> Option<ServiceChange> {
    let to = target.revisions.get(service)?.clone();
    let spec = &target.ecosystem.services[service];
    let replicas = target.replicas(service);
    let from = current.services.get(service);
    let from_replicas = from.map(|running| running.replicas);
    let action = match from {
        None => Action::Add,
        Some(running) if running.desired.unit.revision != to => Action::Update,
        Some(_) if from_replicas != Some(replicas) => Action::Scale,
        Some(_) => return None,
    };
    let steps = match action {
        Action::Scale => vec![Step::ScaleNew(replicas)],
        _ => strategy::steps(spec.kind, &spec.rollout, from_replicas, replicas),
    };
    let strategy = match action {
        Action::Add => "start".to_owned(),
        Action::Scale => "scale".to_owned(),
        _ => strategy::effective(spec.kind, &spec.rollout).to_string(),
    };
    Some(ServiceChange {
        service: service.to_owned(),
        action,
        from: from.map(|running| running.desired.unit.revision.clone()),
        to: Some(to),
        from_replicas,
        replicas,
        strategy,
        settings: revision::diff(
            from.map(|running| &running.workload),
            &target.workloads[service],
        ),
        steps,
    })
}

/// Everything a deployment acts through.
pub struct Context<'a> {
    pub runtime: &'a dyn Runtime,
    pub metrics: &'a dyn MetricProvider,
    pub journal: Journal<'a>,
    pub control: watch::Receiver<Control>,
}

/// Runs the plan. A failed or aborted service is restored by its own rollout;
/// then every service this deployment already changed is restored too, the last
/// first.
pub async fn execute(
    context: &Context<'_>,
    current: &Deployed,
    target: &Target,
    plan: &DeployPlan,
) -> Outcome {
    let mut done: Vec<&ServiceChange> = Vec::new();
    for change in &plan.changes {
        match run_change(context, current, target, change).await {
            Ok(()) => done.push(change),
            Err(stop) => {
                if !done.is_empty() {
                    note(
                        context.journal,
                        None,
                        format!(
                            "restoring {} as well, so the ecosystem returns to its previous revision",
                            done.iter()
                                .map(|c| c.service.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                for change in done.iter().rev() {
                    restore_change(context, current, target, change).await;
                }
                return match stop {
                    Stop::Aborted => Outcome::Aborted,
                    Stop::Failed(_) if !current.services.is_empty() => Outcome::RolledBack,
                    Stop::Failed(_) => Outcome::Failed,
                };
            }
        }
    }
    Outcome::Succeeded
}

fn rollout<'a>(
    context: &Context<'a>,
    current: &Deployed,
    target: &Target,
    change: &ServiceChange,
) -> ServiceRollout<'a> {
    let service = &change.service;
    let old = current
        .services
        .get(service)
        .map(|running| (running.desired.clone(), running.replicas));
    let new = match (change.action, &old) {
        (Action::Remove, Some((running, _))) => running.clone(),
        _ => target.desired(service),
    };
    ServiceRollout::new(
        context.runtime,
        context.metrics,
        new,
        old,
        context.journal,
        context.control.clone(),
    )
}

async fn run_change(
    context: &Context<'_>,
    current: &Deployed,
    target: &Target,
    change: &ServiceChange,
) -> Result<(), Stop> {
    let mut rollout = rollout(context, current, target, change);
    if change.action == Action::Remove {
        context.runtime.remove(&rollout.new.unit).await;
        note(context.journal, Some(&change.service), "removed");
        return Ok(());
    }
    let result = rollout.run(&change.steps).await;
    if result.is_ok() {
        note(
            context.journal,
            Some(&change.service),
            format!("now at {}", rollout.new.unit.revision),
        );
    }
    result
}

async fn restore_change(
    context: &Context<'_>,
    current: &Deployed,
    target: &Target,
    change: &ServiceChange,
) {
    if change.action == Action::Remove {
        if let Some(running) = current.services.get(&change.service)
            && let Err(failure) = context
                .runtime
                .apply(&running.desired, running.replicas)
                .await
        {
            (context.journal)(Entry {
                at: now(),
                service: Some(change.service.clone()),
                what: "could not be started again".to_owned(),
                evidence: Some(Evidence {
                    reason: failure.message,
                    last_lines: failure.last_lines,
                    ..Evidence::default()
                }),
            });
        }
        return;
    }
    rollout(context, current, target, change).restore().await;
}
