//! Bringing a plan up, and taking services down in reverse dependency order.

use berth_core::graph::{DependencyGraph, Direction};
use berth_core::plan::{Plan, Step, Wait};
use futures_util::future::{join_all, try_join_all};
use indexmap::IndexSet;
use std::collections::HashSet;
use std::sync::Mutex;

use crate::condition::{self, settled};
use crate::runtime::{Failure, Runtime};
use crate::target::Target;

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

/// Runs the plan: phase by phase; inside a phase every service starts as soon as
/// its gates hold, so independent services start together.
pub async fn up(
    target: &Target,
    plan: &Plan,
    runtime: &dyn Runtime,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<(), Failure> {
    let announcer = Announcer {
        target,
        progress,
        announced: Mutex::default(),
    };
    for phase in &plan.phases {
        progress(Event::PhaseStarted(phase.name.clone()));
        let steps: Vec<&Step> = phase.waves.iter().flatten().collect();
        try_join_all(steps.iter().map(|step| async {
            start_when_gates_hold(target, step, runtime, &announcer).await?;
            settle(target, step, runtime, &announcer).await
        }))
        .await?;
        progress(Event::PhaseDone(phase.name.clone()));
    }
    Ok(())
}

/// Reports each service settled once, as soon as it is, by whichever sees it
/// first: its own wait, or a dependent whose gate it opens — so the events come
/// in the order the gates saw them, `api healthy` before `worker started`.
struct Announcer<'a> {
    target: &'a Target,
    progress: &'a (dyn Fn(Event) + Sync),
    announced: Mutex<HashSet<String>>,
}

impl Announcer<'_> {
    fn settled(&self, service: &str) {
        if self
            .announced
            .lock()
            .expect("announced lock")
            .insert(service.to_owned())
        {
            (self.progress)(Event::Settled {
                service: service.to_owned(),
                condition: settled(&self.target.ecosystem, service).to_string(),
            });
        }
    }

    /// A dependency that has settled, when its dependent starts.
    fn settled_if_so(&self, runtime: &dyn Runtime, service: &str) {
        let condition = settled(&self.target.ecosystem, service);
        let unit = self.target.unit(service);
        let patterns = self.target.patterns(service);
        if condition::holds(runtime, &unit, &condition, &patterns) {
            self.settled(service);
        }
    }

    fn started(&self, service: &str) {
        (self.progress)(Event::Started(service.to_owned()));
    }
}

/// Waits until a started service has settled: healthy, or completed for a job.
async fn settle(
    target: &Target,
    step: &Step,
    runtime: &dyn Runtime,
    announcer: &Announcer<'_>,
) -> Result<(), Failure> {
    let condition = settled(&target.ecosystem, &step.service);
    let unit = target.unit(&step.service);
    let patterns = target.patterns(&step.service);
    // As Kubernetes' progress deadline: a start that does not settle in time
    // fails, rather than keep `berth up -d` waiting for ever.
    let deadline = target
        .ecosystem
        .services
        .get(&step.service)
        .map(|service| service.rollout.progress_deadline());
    condition::reached(runtime, &unit, &condition, &patterns, deadline).await?;
    announcer.settled(&step.service);
    Ok(())
}

async fn start_when_gates_hold(
    target: &Target,
    step: &Step,
    runtime: &dyn Runtime,
    announcer: &Announcer<'_>,
) -> Result<(), Failure> {
    let gates: Vec<_> = step
        .after
        .iter()
        .filter_map(|gate| match &gate.condition {
            Wait::Until(condition) => Some((
                target.unit(&gate.service),
                condition,
                target.patterns(&gate.service),
            )),
            Wait::External => None,
        })
        .collect();
    // The gates are waited for one by one, so an earlier one may have stopped
    // holding (a dependency restarting) by the time the last one does: start only
    // once they all hold at the same moment.
    loop {
        for (unit, condition, patterns) in &gates {
            condition::reached(runtime, unit, condition, patterns, None).await?;
        }
        if gates
            .iter()
            .all(|(unit, condition, patterns)| condition::holds(runtime, unit, condition, patterns))
        {
            break;
        }
    }
    for gate in &step.after {
        announcer.settled_if_so(runtime, &gate.service);
    }
    runtime
        .apply(
            &target.desired(&step.service),
            target.replicas(&step.service),
        )
        .await?;
    announcer.started(&step.service);
    Ok(())
}

/// Removes every unit of `services`, dependents before what they depend on;
/// each wave in parallel.
pub async fn down(
    target: &Target,
    services: &IndexSet<&str>,
    runtime: &dyn Runtime,
    progress: &(dyn Fn(Event) + Sync),
) {
    let graph = DependencyGraph::new(&target.ecosystem);
    let units = runtime.units();
    for wave in graph.waves(services, Direction::Down) {
        join_all(wave.iter().map(|service| {
            let units = &units;
            async move {
                let of_service: Vec<_> = units
                    .iter()
                    .filter(|(u, _)| u.service == *service)
                    .collect();
                if of_service.is_empty() {
                    return;
                }
                // A job that completed, or a service that has exited, is not
                // stopped now: it is cleared away without a word.
                let running = of_service.iter().any(|(unit, _)| {
                    runtime.watch(unit).is_some_and(|status| {
                        status.borrow().instances.iter().any(|i| !i.is_final())
                    })
                });
                if running {
                    progress(Event::Stopping(service.to_string()));
                }
                join_all(of_service.iter().map(|(unit, _)| runtime.remove(unit))).await;
                if running {
                    progress(Event::Stopped(service.to_string()));
                }
            }
        }))
        .await;
    }
}
