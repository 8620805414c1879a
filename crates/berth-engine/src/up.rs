//! Bringing a plan up, and taking services down in reverse dependency order.

use berth_core::Ecosystem;
use berth_core::graph::{DependencyGraph, Direction};
use berth_core::model::{Condition, Kind};
use berth_core::plan::{Plan, Step};
use futures_util::future::{join_all, try_join_all};
use indexmap::IndexSet;

use crate::runtime::{Failure, Runtime};

/// Progress, for whoever shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PhaseStarted(String),
    Started(String),
    Settled { service: String, condition: String },
    PhaseDone(String),
    Stopping(String),
    Stopped(String),
}

/// What a service must reach before its phase counts as done.
pub fn settled(ecosystem: &Ecosystem, service: &str) -> Condition {
    let spec = &ecosystem.services[service];
    if spec.kind == Kind::Job {
        Condition::Completed
    } else if spec.health.readiness.is_some() {
        Condition::Healthy
    } else {
        Condition::Started
    }
}

/// Runs the plan: phase by phase; inside a phase every service starts as soon as
/// its gates hold, so independent services start together.
pub async fn up(
    ecosystem: &Ecosystem,
    plan: &Plan,
    runtime: &impl Runtime,
    progress: &impl Fn(Event),
) -> Result<(), Failure> {
    for phase in &plan.phases {
        progress(Event::PhaseStarted(phase.name.clone()));
        let steps: Vec<&Step> = phase.waves.iter().flatten().collect();
        try_join_all(
            steps
                .iter()
                .map(|step| start_when_gates_hold(ecosystem, step, runtime, progress)),
        )
        .await?;
        try_join_all(steps.iter().map(|step| async {
            let condition = settled(ecosystem, &step.service);
            runtime.reached(&step.service, &condition).await?;
            progress(Event::Settled {
                service: step.service.clone(),
                condition: condition.to_string(),
            });
            Ok::<(), Failure>(())
        }))
        .await?;
        progress(Event::PhaseDone(phase.name.clone()));
    }
    Ok(())
}

async fn start_when_gates_hold(
    ecosystem: &Ecosystem,
    step: &Step,
    runtime: &impl Runtime,
    progress: &impl Fn(Event),
) -> Result<(), Failure> {
    let service = &ecosystem.services[&step.service];
    let gates: Vec<_> = service
        .depends_on
        .iter()
        .filter(|(dependency, _)| !ecosystem.is_external(dependency))
        .collect();
    // The gates are waited for one by one, so an earlier one may have stopped
    // holding (a dependency restarting) by the time the last one does: start only
    // once they all hold at the same moment.
    loop {
        for (dependency, condition) in &gates {
            runtime.reached(dependency, condition).await?;
        }
        if gates
            .iter()
            .all(|(dependency, condition)| runtime.holds(dependency, condition))
        {
            break;
        }
    }
    runtime.start(&step.service).await?;
    progress(Event::Started(step.service.clone()));
    Ok(())
}

/// Stops `services`, dependents before what they depend on; each wave in parallel.
pub async fn down(
    ecosystem: &Ecosystem,
    services: &IndexSet<&str>,
    runtime: &impl Runtime,
    progress: &impl Fn(Event),
) {
    let graph = DependencyGraph::new(ecosystem);
    for wave in graph.waves(services, Direction::Down) {
        join_all(wave.iter().map(|service| async move {
            progress(Event::Stopping(service.to_string()));
            runtime.stop(service).await;
            progress(Event::Stopped(service.to_string()));
        }))
        .await;
    }
}
