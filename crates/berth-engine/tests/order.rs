//! The engine's ordering, against a recording runtime: a test double that starts
//! nothing and writes down what it was asked, in order.

use std::cell::RefCell;

use berth_core::model::Condition;
use berth_core::{load_str, plan};
use berth_engine::{Failure, Runtime};
use indexmap::IndexSet;

#[derive(Default)]
struct RecordingRuntime {
    started: RefCell<Vec<String>>,
    stopped: RefCell<Vec<String>>,
}

impl Runtime for RecordingRuntime {
    async fn start(&self, service: &str) -> Result<(), Failure> {
        self.started.borrow_mut().push(service.to_owned());
        Ok(())
    }

    async fn reached(&self, service: &str, _: &Condition) -> Result<(), Failure> {
        // Nothing is reached before it is started; everything is once it is.
        while !self.started.borrow().iter().any(|s| s == service) {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    fn holds(&self, service: &str, _: &Condition) -> bool {
        self.started.borrow().iter().any(|s| s == service)
    }

    async fn stop(&self, service: &str) {
        self.stopped.borrow_mut().push(service.to_owned());
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
    let runtime = RecordingRuntime::default();
    berth_engine::up(ecosystem, &plan, &runtime, &|_| {})
        .await
        .unwrap();
    let started = runtime.started.borrow().clone();
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
    berth_engine::down(ecosystem, &all, &runtime, &|_| {}).await;
    let stopped = runtime.stopped.borrow().clone();
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
