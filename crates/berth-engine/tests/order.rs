//! The engine's ordering, against a recording runtime: a mock that starts
//! nothing, reports every applied unit as started, ready and completed at once,
//! and writes down what it was asked, in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_core::revision::Revision;
use berth_core::{load_str, plan};
use berth_engine::{
    BoxFuture, Desired, Failure, Runtime, State, Status, Target, Traffic, Unit, UnitStatus,
};
use indexmap::IndexSet;
use tokio::sync::watch;

#[derive(Default)]
struct RecordingRuntime {
    started: Mutex<Vec<String>>,
    stopped: Mutex<Vec<String>>,
    units: Mutex<HashMap<Unit, watch::Sender<UnitStatus>>>,
}

fn done(label: &str) -> Status {
    let mut status = Status::new(label, 1);
    status.started = true;
    status.ready = true;
    status.state = State::Completed;
    status
}

impl Runtime for RecordingRuntime {
    fn apply<'a>(&'a self, desired: &'a Desired, _: u32) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            self.started
                .lock()
                .unwrap()
                .push(desired.unit.service.clone());
            let status = UnitStatus {
                instances: vec![done(&desired.unit.service)],
            };
            let mut units = self.units.lock().unwrap();
            units
                .entry(desired.unit.clone())
                .or_insert_with(|| watch::channel(UnitStatus::default()).0)
                .send_replace(status);
            Ok(())
        })
    }

    fn remove<'a>(&'a self, unit: &'a Unit) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.stopped.lock().unwrap().push(unit.service.clone());
            self.units.lock().unwrap().remove(unit);
        })
    }

    fn units(&self) -> Vec<(Unit, UnitStatus)> {
        let units = self.units.lock().unwrap();
        units
            .iter()
            .map(|(u, s)| (u.clone(), s.borrow().clone()))
            .collect()
    }

    fn watch(&self, unit: &Unit) -> Option<watch::Receiver<UnitStatus>> {
        // Anything may be waited for before it is applied.
        let mut units = self.units.lock().unwrap();
        Some(
            units
                .entry(unit.clone())
                .or_insert_with(|| watch::channel(UnitStatus::default()).0)
                .subscribe(),
        )
    }

    fn last_lines(&self, _: &Unit) -> Vec<String> {
        Vec::new()
    }

    fn set_weights(&self, _: &str, _: &[(Revision, u32)]) {}

    fn traffic(&self, _: &str, _: &Revision) -> Option<Traffic> {
        None
    }

    fn direct_address(&self, _: &Unit) -> Option<String> {
        None
    }

    fn service_address(&self, _: &str) -> Option<String> {
        None
    }
}

const YAML: &str = "name: order
services:
  db: { kind: postgres }
  cache: { kind: redis }
  migrate: { kind: job, image: m:1, depends_on: { db: healthy } }
  api: { image: a:1, depends_on: { migrate: completed, cache: healthy } }
  worker: { image: w:1, depends_on: { api: started } }
  web: { image: w:1, phase: frontend, depends_on: { api: started } }
";

#[tokio::test(flavor = "current_thread")]
async fn services_start_after_their_gates_and_phases_and_stop_in_reverse() {
    let project = load_str("berth.yaml", YAML).unwrap();
    let ecosystem = project.ecosystem(None).unwrap();
    let plan = plan::plan(ecosystem, &plan::select(ecosystem, &[]).unwrap());
    let target = Target::of(Arc::new(ecosystem.clone()));
    let runtime = RecordingRuntime::default();
    berth_engine::up(&target, &plan, &runtime, &|_| {})
        .await
        .unwrap();
    let started = runtime.started.lock().unwrap().clone();
    let position = |name: &str| started.iter().position(|s| s == name).unwrap();
    for (name, service) in &ecosystem.services {
        for dependency in service.depends_on.names() {
            assert!(
                position(dependency) < position(name),
                "{dependency} before {name}: {started:?}"
            );
        }
    }
    assert!(
        position("worker") < position("web"),
        "the frontend phase waits for core: {started:?}"
    );

    let all: IndexSet<&str> = ecosystem.services.keys().map(String::as_str).collect();
    berth_engine::down(&target, &all, &runtime, &|_| {}).await;
    let stopped = runtime.stopped.lock().unwrap().clone();
    let position = |name: &str| stopped.iter().position(|s| s == name).unwrap();
    for (name, service) in &ecosystem.services {
        for dependency in service.depends_on.names() {
            assert!(
                position(name) < position(dependency),
                "{name} stops before {dependency}: {stopped:?}"
            );
        }
    }
}
