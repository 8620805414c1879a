//! The executor and its decisions on tokio's paused clock, against the mock
//! runtime and a scripted metric provider: what is applied, weighted and
//! removed, in what order, and when.

mod mock;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::load_str;
use berth_core::revision::Revision;
use berth_engine::analysis::{Measurement, MetricProvider};
use berth_engine::deploy::{self, Context};
use berth_engine::execute::Control;
use berth_engine::history::{Entry, Outcome};
use berth_engine::{BoxFuture, Deployed, Runtime, Target};
use mock::MockRuntime;
use tokio::sync::watch;

/// Scripted measurements, each taking its window of (paused) time.
struct Script(Mutex<VecDeque<Measurement>>);

impl MetricProvider for Script {
    fn measure<'a>(
        &'a self,
        _: &'a str,
        _: &'a Revision,
        window: Duration,
    ) -> BoxFuture<'a, Result<Measurement, String>> {
        Box::pin(async move {
            tokio::time::sleep(window).await;
            Ok(self.0.lock().unwrap().pop_front().unwrap_or(good()))
        })
    }

    fn reachable(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}

fn measured(requests: u64, errors: u64) -> Measurement {
    Measurement {
        requests,
        errors,
        error_rate: Some(errors as f64 / requests as f64),
        p95_ms: Some(10),
        source: "script".into(),
    }
}

fn good() -> Measurement {
    measured(100, 0)
}

fn target(yaml: &str, version: &str) -> Target {
    let yaml = yaml.replace("VERSION", version);
    let project = load_str("berth.yaml", &yaml).unwrap();
    let target = Target::of(Arc::new(project.ecosystem(None).unwrap().clone()));
    for (service, revision) in &target.revisions {
        mock::remember(revision, format!("{service}{version}"));
    }
    target
}

const CANARY: &str = "name: c
services:
  web:
    image: web:VERSION
    replicas: 4
    ports: { http: 9000 }
    health: { readiness: /ready }
    rollout: { strategy: canary, steps: [25, 100], analysis: { error_rate: 1%, interval: 10s, failure_limit: FAILURES } }
";

struct Run {
    runtime: MockRuntime,
    entries: Mutex<Vec<Entry>>,
    control: watch::Sender<Control>,
}

impl Run {
    fn new() -> Run {
        Run {
            runtime: MockRuntime::default(),
            entries: Mutex::default(),
            control: watch::channel(Control::default()).0,
        }
    }

    async fn deploy(&self, from: &Target, to: &Target, metrics: &dyn MetricProvider) -> Outcome {
        let current = self.start(from).await;
        let plan = deploy::plan_deploy(&current, to, &[]);
        let journal = |entry: Entry| self.entries.lock().unwrap().push(entry);
        let context = Context {
            runtime: &self.runtime,
            metrics,
            journal: &journal,
            control: self.control.subscribe(),
        };
        deploy::execute(&context, &current, to, &plan).await
    }

    async fn start(&self, from: &Target) -> Deployed {
        for service in from.revisions.keys() {
            self.runtime
                .apply(&from.desired(service), from.replicas(service))
                .await
                .unwrap();
        }
        self.runtime.forget_calls();
        from.deployed()
    }

    fn said(&self, text: &str) -> bool {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.what.contains(text))
    }
}

#[tokio::test(start_paused = true)]
async fn a_breaching_canary_is_rolled_back_within_one_interval_of_taking_traffic() {
    let yaml = CANARY.replace("FAILURES", "0");
    let (v1, v2) = (target(&yaml, "1"), target(&yaml, "2"));
    let run = Run::new();
    let metrics = Script(Mutex::new(VecDeque::from([measured(100, 30)])));
    let started = tokio::time::Instant::now();
    let outcome = run.deploy(&v1, &v2, &metrics).await;
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(10),
        "one analysis interval, then back"
    );
    assert_eq!(
        run.runtime.calls(),
        [
            "apply web@web2 ×1",
            "weights web [web2=25 web1=75]",
            "weights web [web2=0 web1=100]",
            "apply web@web1 ×4",
            "remove web@web2",
            "weights web []",
        ]
    );
    let entries = run.entries.lock().unwrap();
    let failed = entries
        .iter()
        .find(|e| e.what.starts_with("failed"))
        .unwrap();
    let evidence = failed.evidence.as_ref().unwrap();
    assert_eq!(evidence.measurement.as_ref().unwrap().errors, 30);
    assert!(evidence.thresholds.iter().any(|t| t == "error rate ≤ 1%"));
    assert_eq!(evidence.last_lines, ["the new version's last words"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_limit_tolerates_breaches_and_a_passing_window_goes_on() {
    let yaml = CANARY.replace("FAILURES", "1");
    let (v1, v2) = (target(&yaml, "1"), target(&yaml, "2"));
    let run = Run::new();
    let metrics = Script(Mutex::new(VecDeque::from([measured(100, 30), good()])));
    let outcome = run.deploy(&v1, &v2, &metrics).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert!(run.said("breach 1 of 1 tolerated"));
    assert_eq!(run.runtime.calls().last().unwrap(), "weights web []");
    assert!(run.runtime.calls().contains(&"remove web@web1".to_owned()));
}

const BLUE_GREEN: &str = "name: b
services:
  api:
    image: api:VERSION
    replicas: 2
    rollout: { strategy: blue_green, manual_promotion: true, keep_previous: 5s }
";

#[tokio::test(start_paused = true)]
async fn a_manual_blue_green_waits_for_promote_and_abort_restores() {
    let (v1, v2) = (target(BLUE_GREEN, "1"), target(BLUE_GREEN, "2"));
    let metrics = Script(Mutex::default());
    for abort in [false, true] {
        let run = Run::new();
        let deploying = run.deploy(&v1, &v2, &metrics);
        let deciding = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            assert!(
                !run.runtime
                    .calls()
                    .iter()
                    .any(|c| c.starts_with("weights api [api2=100")),
                "no switch before the promotion: {:?}",
                run.runtime.calls()
            );
            run.control.send_modify(|c| {
                if abort {
                    c.abort = true;
                } else {
                    c.promotions += 1;
                }
            });
        };
        let (outcome, ()) = tokio::join!(deploying, deciding);
        if abort {
            assert_eq!(outcome, Outcome::Aborted);
            assert!(run.runtime.calls().contains(&"remove api@api2".to_owned()));
        } else {
            assert_eq!(outcome, Outcome::Succeeded);
            assert!(run.said("promoted"));
            assert!(run.runtime.calls().contains(&"remove api@api1".to_owned()));
        }
    }
}

const TWO: &str = "name: t
services:
  db-api:
    image: a:VERSION
    ports: { http: 9000 }
    health: { readiness: /ready }
  web:
    image: w:VERSION
    ports: { http: 9001 }
    health: { readiness: /ready }
    depends_on: { db-api: healthy }
    rollout: { strategy: rolling, progress_deadline: 30s }
";

#[tokio::test(start_paused = true)]
async fn when_one_service_fails_the_services_already_changed_go_back_too() {
    let (v1, v2) = (target(TWO, "1"), target(TWO, "2"));
    let run = Run::new();
    run.runtime
        .never_ready
        .lock()
        .unwrap()
        .push("web@web2".to_owned());
    let metrics = Script(Mutex::default());
    let outcome = run.deploy(&v1, &v2, &metrics).await;
    assert_eq!(outcome, Outcome::RolledBack);
    let calls = run.runtime.calls();
    let at = |text: &str| {
        calls
            .iter()
            .position(|c| c == text)
            .unwrap_or_else(|| panic!("{text} in {calls:?}"))
    };
    assert!(
        at("apply db-api@db-api2 ×1") < at("apply web@web2 ×1"),
        "dependencies first"
    );
    assert!(
        at("remove web@web2") < at("apply db-api@db-api1 ×1"),
        "the failed one goes back first"
    );
    assert!(at("apply db-api@db-api1 ×1") < at("remove db-api@db-api2"));
    assert!(run.said("not healthy within 30s"));
    assert!(run.said("restoring db-api as well"));
}
