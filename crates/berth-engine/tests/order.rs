//! The engine's ordering, against the mock runtime, which writes down what it
//! was asked, in order.

mod mock;

use std::sync::Arc;

use berth_core::{load_str, plan};
use berth_engine::Target;
use indexmap::IndexSet;

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
    let runtime = mock::MockRuntime::default();
    berth_engine::up(&target, &plan, &runtime, &|_| {})
        .await
        .unwrap();
    let started = runtime.services("apply");
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
    let stopped = runtime.services("remove");
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
