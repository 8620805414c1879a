//! `berth deploy` on the local runtime, with real processes: each strategy rolls a
//! good version out under a client's steady load without a failed request, a bad
//! one is rolled back with its evidence kept, and the history holds through
//! kill -9 and concurrent deploys.

mod support;

use std::time::Duration;

use support::project::{FAILURES, Hammer, LONG, Project, request, wait_until};
use support::{berth, free_ports, scratch, survivors, text};

fn service(name: &str, port: u16, version: &str, extra: &str, rollout: &str) -> String {
    format!(
        "  {name}:\n    local: {{ run: [berth, workload, --release, \"{version}\"{extra}] }}\n    ports: {{ http: {port} }}\n    replicas: 2\n    health: {{ readiness: {{ http: /ready, period: 100ms }} }}\n    rollout: {rollout}\n"
    )
}

const ROLLING: &str = "{ strategy: rolling, max_surge: 1 }";
const BLUE_GREEN: &str =
    "{ strategy: blue_green, keep_previous: 1s, smoke: [{ path: /, body: \"2.0.0\" }] }";
const CANARY: &str = "{ strategy: canary, steps: [50, 100], analysis: { error_rate: 1%, interval: 1s, min_requests: 3 } }";

fn three_strategies(ports: &[u16], version: &str) -> String {
    format!(
        "name: rollouts\nservices:\n{}{}{}",
        service("roll", ports[0], version, "", ROLLING),
        service("blue", ports[1], version, "", BLUE_GREEN),
        service("canary", ports[2], version, "", CANARY),
    )
}

#[test]
fn good_versions_roll_out_under_every_strategy_without_a_failed_request() {
    let ports = free_ports(3);
    let project = Project::new("good", &three_strategies(&ports, "1.0.0"));
    let up = project.run(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let hammers: Vec<Hammer> = ports.iter().map(|p| Hammer::start(*p)).collect();
    std::thread::sleep(Duration::from_millis(300));

    project.write(&three_strategies(&ports, "2.0.0"));
    let plan = text(&project.run(&["deploy", "--dry-run"]));
    for expected in [
        "roll update",
        "blue update",
        "canary update",
        "weight 50% new",
    ] {
        assert!(plan.contains(expected), "{expected} in {plan}");
    }
    let deploy = project.run(&["deploy"]);
    assert!(deploy.status.success(), "{}", text(&deploy));
    std::thread::sleep(Duration::from_millis(300));

    for (hammer, port) in hammers.into_iter().zip(&ports) {
        let (ok, failed, bodies) = hammer.finish();
        assert_eq!(
            failed,
            0,
            "port {port}: {failed} failed of {}: {:?}",
            ok + failed,
            FAILURES.lock().unwrap()
        );
        assert!(ok > 50, "port {port}: the client kept going ({ok})");
        assert!(bodies.first().unwrap().contains("1.0.0"), "{bodies:?}");
        assert!(bodies.last().unwrap().contains("2.0.0"), "{bodies:?}");
    }
    let history = project.history();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["outcome"], "succeeded");
    assert_eq!(history[1]["previous"], history[0]["revision"]);
    let timeline = project.timeline(2);
    for step in [
        "smoke check GET / passed",
        "analysis passed",
        "weight 100% new",
    ] {
        assert!(timeline.contains(step), "{step} in {timeline}");
    }
    let status = project.json(&["status"]);
    let revisions: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["revision"].as_str().unwrap())
        .collect();
    assert_eq!(
        revisions.len(),
        6,
        "two of each, the old sets gone: {status}"
    );

    let again = project.run(&["deploy"]);
    assert!(
        text(&again).contains("nothing to deploy"),
        "{}",
        text(&again)
    );
}

fn one(port: u16, version: &str, extra: &str, rollout: &str) -> String {
    format!(
        "name: one\nservices:\n{}",
        service("web", port, version, extra, rollout)
    )
}

#[test]
fn a_bad_canary_is_rolled_back_at_the_first_breach_with_its_evidence() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let canary = "{ strategy: canary, steps: [20, 100], analysis: { error_rate: 1%, interval: 1s, min_requests: 5 } }";
    let project = Project::new("bad-canary", &one(port, "1.0.0", "", canary));
    assert!(project.run(&["up", "-d"]).status.success());
    let hammer = Hammer::start(port);
    std::thread::sleep(Duration::from_millis(200));
    project.write(&one(port, "2.0.0", ", --failure-rate, \"0.5\"", canary));
    let deploy = project.run(&["deploy"]);
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy));
    assert!(text(&deploy).contains("rolled back"), "{}", text(&deploy));
    std::thread::sleep(Duration::from_millis(200));
    let (ok, failed, bodies) = hammer.finish();
    let share = f64::from(failed) / f64::from(ok + failed);
    assert!(
        failed > 0 && share <= 0.2,
        "at most the step's share failed: {failed} of {}",
        ok + failed
    );
    assert!(
        bodies.last().unwrap().contains("1.0.0"),
        "the old version serves again"
    );

    let history = project.history();
    assert_eq!(history[1]["outcome"], "rolled_back");
    let timeline = project.timeline(2);
    for evidence in [
        "analysis breached: error rate",
        "\"requests\"",
        "error rate ≤ 1%",
        "previous revision restored",
    ] {
        assert!(timeline.contains(evidence), "{evidence} in {timeline}");
    }
    assert_eq!(
        project.json(&["status"])["instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_version_that_never_becomes_ready_is_rolled_back_and_no_traffic_is_inconclusive() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let rolling = "{ strategy: rolling, progress_deadline: 2s }";
    let project = Project::new("never-ready", &one(port, "1.0.0", "", rolling));
    assert!(project.run(&["up", "-d"]).status.success());
    // Its readiness waits for an upstream that is never there.
    project.write(&one(
        port,
        "2.0.0",
        ", --upstream, \"http://127.0.0.1:1\"",
        rolling,
    ));
    let deploy = project.run(&["deploy"]);
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy));
    let timeline = project.timeline(2);
    assert!(timeline.contains("not healthy within 2s"), "{timeline}");
    assert!(request(port, "/").unwrap().contains("1.0.0"));

    // A canary nobody calls: the analysis cannot judge it, and says so.
    let canary =
        "{ strategy: canary, steps: [50, 100], analysis: { interval: 1s, min_requests: 5 } }";
    project.write(&one(port, "3.0.0", "", canary));
    let deploy = project.run(&["deploy"]);
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy));
    let timeline = project.timeline(3);
    assert!(
        timeline.contains("analysis inconclusive: 0 requests"),
        "{timeline}"
    );
    assert_eq!(project.history()[2]["outcome"], "rolled_back");
}

#[test]
fn rollback_returns_to_a_stored_revision_and_dora_counts_what_happened() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let project = Project::new("rollback", &one(port, "1.0.0", "", ROLLING));
    assert!(project.run(&["up", "-d"]).status.success());
    project.write(&one(port, "2.0.0", "", ROLLING));
    assert!(project.run(&["deploy"]).status.success());
    assert!(request(port, "/").unwrap().contains("2.0.0"));
    // berth.yaml still says 2.0.0: the rollback runs what deployment 1 stored.
    let back = project.run(&["rollback", "--to", "1", "--reason", "2.0.0 is slow"]);
    assert!(back.status.success(), "{}", text(&back));
    assert!(request(port, "/").unwrap().contains("1.0.0"));
    let history = project.history();
    assert_eq!(history[2]["trigger"], "rollback");
    assert_eq!(history[2]["revision"], history[0]["revision"]);
    assert_eq!(history[2]["reason"], "2.0.0 is slow");
    let diff = text(&project.run(&["history", "show", "3", "--diff", "2"]));
    assert!(diff.contains("2.0.0") && diff.contains("1.0.0"), "{diff}");

    let dora = project.json(&["dora"]);
    assert_eq!(dora["deployments"], 3);
    assert_eq!(dora["change_failure_rate"]["value"], 0.0);
    assert!(dora["report"].as_str().unwrap().contains("2024"));
}

#[test]
fn kill_9_mid_deployment_leaves_the_history_whole_and_the_next_berth_carries_on() {
    // While a new instance starts, and while the old set is kept after a switch.
    for (moment, extra) in [
        ("await new ready", ", --start-delay, 30s"),
        ("pause 30s", ""),
    ] {
        let [port] = free_ports(1)[..] else {
            unreachable!()
        };
        let slow = "{ strategy: blue_green, keep_previous: 30s }";
        let project = Project::new("killed", &one(port, "1.0.0", "", slow));
        assert!(project.run(&["up", "-d"]).status.success());
        let pid = project.berth_pid();
        project.write(&one(port, "2.0.0", extra, slow));
        let (dir, marker) = (project.dir.clone(), project.marker.clone());
        let deploying = std::thread::spawn(move || berth(&dir, &marker, &["deploy"]));
        wait_until(moment, LONG, || {
            project.history().len() == 2 && project.timeline(2).contains(moment)
        });
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        wait_until("every process gone", Duration::from_secs(5), || {
            survivors(&project.marker).is_empty()
        });
        let client = deploying.join().unwrap();
        assert!(
            text(&client).contains("ended before it did"),
            "{}",
            text(&client)
        );
        assert_eq!(
            project.history()[1]["outcome"],
            "running",
            "nobody has looked yet"
        );

        project.write(&one(port, "2.0.0", "", slow));
        let again = project.run(&["up", "-d"]);
        assert!(again.status.success(), "{}", text(&again));
        let history = project.history();
        assert_eq!(history[1]["outcome"], "interrupted", "{moment}");
        assert!(
            project.timeline(2).contains(moment),
            "what was recorded stays"
        );
        assert_eq!(history[2]["trigger"], "up");
        assert!(
            request(port, "/").unwrap().contains("2.0.0"),
            "the new berth runs the file"
        );
        project.write(&one(port, "3.0.0", "", "{ strategy: rolling }"));
        assert!(
            project.run(&["deploy"]).status.success(),
            "the next deploy works"
        );
    }
}

#[test]
fn two_deploys_of_one_environment_never_interleave() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let slow = "{ strategy: blue_green, keep_previous: 2s }";
    let project = Project::new("concurrent", &one(port, "1.0.0", "", slow));
    assert!(project.run(&["up", "-d"]).status.success());
    project.write(&one(port, "2.0.0", "", slow));
    let (dir, marker) = (project.dir.clone(), project.marker.clone());
    let first = std::thread::spawn(move || berth(&dir, &marker, &["deploy"]));
    wait_until("the first deployment to begin", LONG, || {
        project.history().len() >= 2
    });
    let refused = project.run(&["deploy", "--no-wait"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("is being deployed"),
        "{}",
        text(&refused)
    );
    project.write(&one(port, "3.0.0", "", slow));
    let second = project.run(&["deploy"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("waiting for"), "{}", text(&second));
    let _ = first.join().unwrap();
    let history = project.history();
    let ended = |r: &serde_json::Value| r["ended"].as_i64().unwrap();
    let started = |r: &serde_json::Value| r["started"].as_i64().unwrap();
    for pair in history.windows(2) {
        assert!(started(&pair[1]) >= ended(&pair[0]), "{history:?}");
    }
    assert!(request(port, "/").unwrap().contains("3.0.0"));
}

/// As `docker compose up -d` does, `berth up -d` against a running berth applies
/// the file's changes; `restart` restarts with what the file says now.
#[test]
fn up_d_and_restart_apply_what_berth_yaml_says_now() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let project = Project::new("reapply", &one(port, "1.0.0", "", ROLLING));
    assert!(project.run(&["up", "-d"]).status.success());
    project.write(&one(port, "2.0.0", "", ROLLING));
    let again = project.run(&["up", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("deployment 2 succeeded"),
        "{}",
        text(&again)
    );
    assert!(request(port, "/").unwrap().contains("2.0.0"));

    project.write(&one(port, "3.0.0", "", ROLLING));
    let restart = project.run(&["restart", "web"]);
    assert!(restart.status.success(), "{}", text(&restart));
    assert!(
        text(&restart).contains("with the settings berth.yaml has now"),
        "{}",
        text(&restart)
    );
    assert!(request(port, "/").unwrap().contains("3.0.0"));
    let plain = project.run(&["restart", "web"]);
    assert_eq!(text(&plain).trim(), "restarted web");
    assert_eq!(
        project.history().len(),
        3,
        "a plain restart is no deployment"
    );
}

/// Whether `program` is here; without it the test says NOT RUN, and under
/// `CI=true` fails, since CI installs it.
fn have(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        support::not_run(&format!(
            "`{program}` is not installed on this machine (`.ci/run` installs it)"
        ));
    }
    found
}

/// A real Prometheus scraping the gateway's `/_berth/metrics`, asked with PromQL.
#[test]
fn a_canary_is_judged_by_prometheus_when_the_environment_names_one() {
    if !have("prometheus") {
        return;
    }
    let [port, gateway, prometheus_port] = free_ports(3)[..] else {
        unreachable!()
    };
    let data = scratch("deploy-prometheus-data");
    let config = data.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: berth\n    metrics_path: /_berth/metrics\n    static_configs: [{{ targets: ['127.0.0.1:{gateway}'] }}]\n"
        ),
    )
    .unwrap();
    let mut prometheus = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let canary = "{ strategy: canary, steps: [50, 100], analysis: { error_rate: 1%, interval: 5s, min_requests: 5 } }";
    let yaml = |version: &str, extra: &str| {
        format!(
            "{}environments:\n  local: {{ prometheus: \"http://127.0.0.1:{prometheus_port}\", gateway: {{ port: {gateway} }} }}\n",
            one(port, version, extra, canary)
        )
    };
    let project = Project::new("prometheus", &yaml("1.0.0", ""));
    let up = project.run(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    // Prometheus passes new targets to its scrapers every 5 s: wait for the first scrape.
    wait_until("Prometheus to scrape the gateway", LONG, || {
        request(prometheus_port, "/api/v1/query?query=up").is_some_and(|a| a.contains("\"1\"]"))
    });
    let hammer = Hammer::start(port);

    project.write(&yaml("2.0.0", ""));
    let good = project.run(&["deploy"]);
    assert!(good.status.success(), "{}", text(&good));
    let timeline = project.timeline(2);
    assert!(timeline.contains("analysis asks Prometheus"), "{timeline}");
    assert!(
        timeline.contains("analysis passed") && timeline.contains("prometheus at"),
        "{timeline}"
    );

    project.write(&yaml("3.0.0", ", --failure-rate, \"0.5\""));
    let bad = project.run(&["deploy"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let timeline = project.timeline(3);
    assert!(
        timeline.contains("analysis breached: error rate"),
        "{timeline}"
    );
    assert!(timeline.contains("prometheus at"), "{timeline}");
    let _ = hammer.finish();
    let _ = prometheus.kill();
    let _ = prometheus.wait();
}

/// `berth status` shows a canary's weights and last analysis while it pauses;
/// `berth promote` lets it go on, and `berth abort` restores the old set.
#[test]
fn a_paused_canary_shows_in_status_and_is_promoted_or_aborted() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let canary = "{ strategy: canary, steps: [50, 100], pause: 10m, analysis: { error_rate: 1%, interval: 1s, min_requests: 3 } }";
    let project = Project::new("paused", &one(port, "1.0.0", "", canary));
    assert!(project.run(&["up", "-d"]).status.success());
    let hammer = Hammer::start(port);
    for (version, verb, outcome, serves) in [
        ("2.0.0", "promote", "succeeded", "2.0.0"),
        ("3.0.0", "abort", "aborted", "2.0.0"),
    ] {
        project.write(&one(port, version, "", canary));
        let (dir, marker) = (project.dir.clone(), project.marker.clone());
        let deploying = std::thread::spawn(move || berth(&dir, &marker, &["deploy"]));
        wait_until("the canary's pause", LONG, || {
            text(&project.run(&["status"])).contains("last analysis")
        });
        let status = text(&project.run(&["status"]));
        assert!(
            status.contains("rollout of web:") && status.contains(" 50%"),
            "{status}"
        );
        assert!(status.contains("analysis passed"), "{status}");
        let said = project.run(&[verb]);
        assert!(said.status.success(), "{}", text(&said));
        let deployed = deploying.join().unwrap();
        assert!(text(&deployed).contains(outcome), "{}", text(&deployed));
        assert!(request(port, "/").unwrap().contains(serves));
    }
    let (_, failed, _) = hammer.finish();
    assert_eq!(failed, 0, "{:?}", FAILURES.lock().unwrap());
    let idle = project.run(&["promote"]);
    assert_eq!(idle.status.code(), Some(2), "{}", text(&idle));
    assert!(
        text(&idle).contains("no deployment of `local` is under way"),
        "{}",
        text(&idle)
    );
}

/// A named deployment's `pre` commands gate it: one that fails stops the
/// deployment before anything changes, and the timeline says so.
#[test]
fn a_named_deployment_runs_its_pre_commands_as_a_gate() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let with = |version: &str, pre: &str| {
        format!(
            "{}deployments:\n  release: {{ services: [web], pre: [{pre}], post: [\"touch released\"] }}\n",
            one(port, version, "", ROLLING)
        )
    };
    let project = Project::new("gated", &with("1.0.0", "[\"false\"]"));
    assert!(project.run(&["up", "-d"]).status.success());
    project.write(&with("2.0.0", "[\"false\"]"));
    let stopped = project.run(&["deploy", "release"]);
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    let timeline = project.timeline(2);
    assert!(
        timeline.contains("stops before it changes anything"),
        "{timeline}"
    );
    assert!(request(port, "/").unwrap().contains("1.0.0"));
    assert_eq!(project.history()[1]["outcome"], "failed");

    project.write(&with("2.0.0", "[\"true\"]"));
    let passed = project.run(&["deploy", "release"]);
    assert!(passed.status.success(), "{}", text(&passed));
    assert!(request(port, "/").unwrap().contains("2.0.0"));
    assert!(
        project.dir.join("released").exists(),
        "the post command ran"
    );
    let revision = project.history()[2]["revision"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = text(&project.run(&["history", "show", &revision[..6]]));
    assert!(shown.starts_with("deployment 3 "), "{shown}");
    let unknown = project.run(&["deploy", "relase"]);
    assert!(
        text(&unknown).contains("did you mean `release`?"),
        "{}",
        text(&unknown)
    );
}
