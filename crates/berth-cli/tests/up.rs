//! `berth up` with real processes, sockets and signals.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Up, free_ports, get, scratch};

/// The quickstart on free ports.
fn quickstart() -> (String, [u16; 4]) {
    let ports = free_ports(4);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/berth.yaml");
    let yaml = std::fs::read_to_string(repo)
        .unwrap()
        .replace("http: 9001", &format!("http: {}", ports[0]))
        .replace("http: 9002", &format!("http: {}", ports[1]))
        .replace("http: 9003", &format!("http: {}", ports[2]))
        .replace(
            "  local:\n    runtime: local\n",
            &format!(
                "  local:\n    runtime: local\n    gateway: {{ port: {} }}\n",
                ports[3]
            ),
        );
    (yaml, [ports[0], ports[1], ports[2], ports[3]])
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_quickstart_comes_up_serves_and_stops_cleanly_on_ctrl_c() {
    let (yaml, [api, web, _, gateway]) = quickstart();
    let mut up = Up::start("quickstart", &yaml, &[]);
    up.wait_for("4 services up", LONG);
    assert!(get(api, "/hello").contains("api 0.1.0 /hello"));
    assert!(get(web, "/ready").starts_with("HTTP/1.0 200"));
    assert!(
        get(gateway, "/api/hello").contains("api 0.1.0 /api/hello"),
        "the gateway routes /api"
    );
    assert!(
        get(gateway, "/").contains("web 0.1.0 /"),
        "and / to the web front"
    );
    let at: Vec<Instant> = [
        "migrations applied",
        "berth: api started",
        "berth: web started",
    ]
    .iter()
    .map(|text| up.wait_for(text, LONG).0)
    .collect();
    assert!(
        at[0] <= at[1] && at[1] <= at[2],
        "migrate, then api, then web"
    );
    assert!(!up.survivors().is_empty(), "the services run as children");
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
    assert_eq!(
        up.survivors_after(Duration::from_secs(1)),
        Vec::<String>::new()
    );
    let log = std::fs::read_to_string(up.dir.join(".berth/logs/api.log")).unwrap();
    assert!(log.contains("listening on port"), "{log}");
    let stopped = up.wait_for("web stopped", LONG).0;
    assert!(
        stopped <= up.wait_for("api stopped", LONG).0,
        "dependents stop first"
    );
    // The events in the order the gates saw them; nothing "stopped" that had
    // already ended.
    let transcript = up.transcript();
    let line = |text: &str| transcript.lines().position(|l| l == text).unwrap();
    assert!(
        line("berth: api healthy") < line("berth: worker started"),
        "{transcript}"
    );
    assert!(
        line("berth: migrate completed") < line("berth: api started"),
        "{transcript}"
    );
    assert!(!transcript.contains("migrate stopped"), "{transcript}");
}

/// A named deployment of some services neither announces nor routes to the
/// others.
#[test]
fn a_deployment_of_some_services_routes_only_to_them() {
    let (yaml, [_, _, _, gateway]) = quickstart();
    let mut up = Up::start("some-routes", &yaml, &["backend"]);
    let (_, announced) = up.wait_for("berth: gateway on", LONG);
    assert!(announced.ends_with("(/api → api)"), "{announced}");
    up.wait_for("services up", LONG);
    assert!(get(gateway, "/api/hello").contains("api 0.1.0 /api/hello"));
    assert!(
        get(gateway, "/").starts_with("HTTP/1.0 404"),
        "web is not part of it"
    );
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// In a tree of 40 services, each waiting for its parent, every `started` is
/// shown after its parent's `healthy`: the display never seems to break a gate.
#[test]
fn events_come_in_the_order_the_gates_saw_them() {
    let ports = free_ports(40);
    let mut yaml = String::from("name: tree\nservices:\n");
    for (i, port) in ports.iter().enumerate() {
        let depends = if i > 0 {
            format!(", depends_on: {{ s{}: healthy }}", (i - 1) / 3)
        } else {
            String::new()
        };
        yaml += &format!(
            "  s{i}: {{ local: {{ run: [berth, workload] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }}{depends} }}\n"
        );
    }
    let mut up = Up::start("event-order", &yaml, &[]);
    up.wait_for("40 services up", LONG);
    let transcript = up.transcript();
    let line = |text: &str| transcript.lines().position(|l| l == text).unwrap();
    for i in 1..40 {
        let parent = (i - 1) / 3;
        assert!(
            line(&format!("berth: s{parent} healthy")) < line(&format!("berth: s{i} started")),
            "s{i} started before s{parent} was healthy:\n{transcript}"
        );
    }
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

#[test]
fn killing_berth_with_sigkill_leaves_no_process_behind() {
    let (yaml, _) = quickstart();
    let dir = scratch("kill9");
    std::fs::write(dir.join("berth.yaml"), &yaml).unwrap();
    // Killed at different moments of `up`: during the job, while probing, once up.
    for moment in [
        "migrate started",
        "applying migrations",
        "api started",
        "worker started",
        "4 services up",
    ] {
        let mut up = Up::start_in(dir.clone(), &[]);
        up.wait_for(moment, LONG);
        up.signal("-KILL");
        up.exit_code(LONG);
        // The guard notices at once, and kills in a moment; a loaded machine
        // makes the moment longer.
        let left = up.survivors_after(Duration::from_secs(3));
        assert!(
            left.is_empty(),
            "killed at `{moment}`, these survived: {left:?}"
        );
    }
    let mut up = Up::start_in(dir, &[]);
    up.wait_for("4 services up", LONG);
    up.signal("-TERM");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// SIGKILL at any moment of bringing 25 services up, with dependencies between
/// them, leaves nothing running and a `.berth/` the next berth starts from.
#[test]
fn killing_berth_at_any_moment_of_a_25_service_start_leaves_nothing() {
    let ports = free_ports(25);
    let mut yaml = String::from("name: many\nservices:\n");
    for (i, port) in ports.iter().enumerate() {
        let depends = if i >= 5 {
            format!(", depends_on: {{ s{}: healthy }}", i - 5)
        } else {
            String::new()
        };
        yaml += &format!(
            "  s{i}: {{ local: {{ run: [berth, workload, --start-delay, 20ms] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }}{depends} }}\n"
        );
    }
    let dir = scratch("kill9-many");
    std::fs::write(dir.join("berth.yaml"), &yaml).unwrap();
    for delay in [5, 30, 60, 100, 160, 250, 400] {
        let mut up = Up::start_in(dir.clone(), &[]);
        std::thread::sleep(Duration::from_millis(delay));
        up.signal("-KILL");
        up.exit_code(LONG);
        let left = up.survivors_after(Duration::from_secs(3));
        assert!(
            left.is_empty(),
            "killed after {delay} ms, these survived: {left:?}"
        );
    }
    let mut up = Up::start_in(dir, &[]);
    up.wait_for("25 services up", LONG);
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

#[test]
fn a_slow_dependency_delays_its_dependents_by_as_much() {
    let [a, b] = free_ports(2)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: slow\nservices:\n  a:\n    local: {{ run: [berth, workload, --start-delay, 700ms] }}\n    ports: {{ http: {a} }}\n    health: {{ readiness: /ready }}\n  b:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {b} }}\n    depends_on: {{ a: healthy }}\n"
    );
    let mut up = Up::start("slow", &yaml, &[]);
    let a_started = up.wait_for("berth: a started", LONG).0;
    let b_started = up.wait_for("berth: b started", LONG).0;
    let waited = b_started - a_started;
    assert!(
        waited >= Duration::from_millis(700),
        "b started {waited:?} after a"
    );
    assert!(
        waited < Duration::from_millis(700 + 500),
        "b started {waited:?} after a: readiness noticed late"
    );
}

#[test]
fn restarts_back_off_and_give_up_in_a_visible_crash_loop() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: crashy\nservices:\n  flaky:\n    local: {{ run: [berth, workload, --crash-after, 50ms] }}\n    ports: {{ http: {port} }}\n    restart: {{ policy: always, max_restarts: 3, backoff: 100ms, max_backoff: 1s }}\n"
    );
    let mut up = Up::start("crashy", &yaml, &[]);
    up.wait_for("gave up after 3 restarts in a row (crash-loop)", LONG);
    let transcript = up.transcript();
    let pauses: Vec<&str> = transcript
        .lines()
        .filter_map(|line| line.split("restarting in ").nth(1))
        .collect();
    assert_eq!(pauses, ["100ms", "200ms", "400ms"], "{transcript}");
    // berth's own lines about a service are in its log too, where `logs` finds them.
    let logs = support::berth(&up.dir, &up.marker, &["logs", "flaky"]);
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains("flaky | berth: exited with 1; restarting in 100ms"),
        "{logs}"
    );
    assert!(logs.contains("(crash-loop)"), "{logs}");
}

#[test]
fn a_failed_job_stops_the_plan_and_shows_its_last_lines() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: failing\nservices:\n  seed:\n    kind: job\n    local: {{ run: \"echo loading fixtures; echo fixture 7 is broken >&2; exit 3\" }}\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {port} }}\n    depends_on: {{ seed: completed }}\n"
    );
    let mut up = Up::start("failing", &yaml, &[]);
    assert_eq!(up.exit_code(LONG), Some(1));
    let transcript = up.transcript();
    assert!(
        transcript.contains("error: seed: exited (3) before it was completed"),
        "{transcript}"
    );
    assert!(
        transcript.contains("  | fixture 7 is broken"),
        "{transcript}"
    );
    assert!(!transcript.contains("api started"), "{transcript}");
}

/// process-compose #544 and #530: a dependent must keep waiting while its
/// dependency restarts, not fail and not start early.
#[test]
fn dependents_keep_waiting_through_a_dependency_restart() {
    let [a, b] = free_ports(2)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: patient\nservices:\n  a:\n    local: {{ run: \"if [ -f second ]; then exec berth workload; else touch second; echo first run fails; sleep 0.3; exit 1; fi\" }}\n    ports: {{ http: {a} }}\n    health: {{ readiness: /ready }}\n    restart: {{ policy: on_failure, backoff: 100ms }}\n  b:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {b} }}\n    depends_on: {{ a: healthy }}\n"
    );
    let mut up = Up::start("patient", &yaml, &[]);
    let restarted = up.wait_for("a | berth: exited with 1; restarting", LONG).0;
    let second_run = up.wait_for("a | a 1.0.0 listening", LONG).0;
    let b_started = up.wait_for("berth: b started", LONG).0;
    assert!(
        restarted < second_run && second_run <= b_started,
        "{}",
        up.transcript()
    );
    up.wait_for("2 services up", LONG);
}

#[test]
fn a_named_deployment_runs_its_pre_and_post_commands() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: named\nservices:\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {port} }}\n    health: {{ readiness: /ready }}\n  other:\n    local: {{ run: [berth, workload] }}\ndeployments:\n  just-api:\n    pre: [\"echo before > pre.txt\"]\n    post: [\"echo after > post.txt\"]\n    services: [api]\n"
    );
    let mut up = Up::start("named", &yaml, &["just-api"]);
    up.wait_for("1 service up", LONG);
    assert_eq!(
        std::fs::read_to_string(up.dir.join("pre.txt")).unwrap(),
        "before\n"
    );
    assert_eq!(
        std::fs::read_to_string(up.dir.join("post.txt")).unwrap(),
        "after\n"
    );
    assert!(!up.transcript().contains("other started"));
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

#[test]
fn replicas_run_as_instances_on_distinct_ports_each_told_its_index() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: replicated\nservices:\n  api:\n    local: {{ run: \"echo instance $BERTH_INSTANCE of $BERTH_SERVICE on $PORT; exec berth workload\" }}\n    ports: {{ http: {port} }}\n    replicas: 3\n    health: {{ readiness: /ready }}\n"
    );
    let mut up = Up::start("replicas", &yaml, &[]);
    up.wait_for("1 service up", LONG);
    let mut ports = Vec::new();
    for (index, label) in ["api  ", "api.1", "api.2"].iter().enumerate() {
        let line = up
            .wait_for(&format!("{label} | instance {index} of api on "), LONG)
            .1;
        let instance_port: u16 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(get(instance_port, "/ready").starts_with("HTTP/1.0 200"));
        ports.push(instance_port);
    }
    assert!(
        !ports.contains(&port),
        "instances listen behind berth's listener on the declared port"
    );
    let through = get(port, "/ready");
    assert!(
        through.contains(" 200 OK"),
        "the listener answers: {through}"
    );
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3, "distinct ports");
    assert!(up.dir.join(".berth/logs/api.2.log").is_file());
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
    assert!(up.survivors_after(Duration::from_secs(1)).is_empty());
}

#[test]
fn the_gateway_routes_by_prefix_round_robin_and_around_failed_instances() {
    let [api, gateway] = free_ports(2)[..] else {
        unreachable!()
    };
    let run = "if [ $BERTH_INSTANCE = 0 ]; then exec berth workload --name api0 --crash-after 1500ms; else exec berth workload --name api1; fi";
    let yaml = format!(
        "name: routed\nservices:\n  api:\n    local: {{ run: \"{run}\" }}\n    ports: {{ http: {api} }}\n    replicas: 2\n    health: {{ readiness: {{ http: /ready, period: 100ms }} }}\n    restart: never\n    routes: [{{ prefix: /api, rewrite: / }}]\nenvironments:\n  local: {{ gateway: {{ port: {gateway} }} }}\n"
    );
    let mut up = Up::start("gateway", &yaml, &[]);
    up.wait_for("1 service up", LONG);
    let answers: Vec<String> = (0..4).map(|_| get(gateway, "/api/orders?id=7")).collect();
    assert!(
        answers.iter().all(|a| a.contains(" /orders")),
        "the prefix is rewritten: {answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.contains("api0 ")) && answers.iter().any(|a| a.contains("api1 ")),
        "round robin: {answers:?}"
    );
    up.wait_for("api   | crashing", LONG);
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..4 {
        assert!(
            get(gateway, "/api/x").contains("api1 "),
            "only the live instance gets traffic"
        );
    }
    assert!(get(gateway, "/other").starts_with("HTTP/1.0 404"));
    let metrics = get(gateway, "/_berth/metrics");
    assert!(
        metrics.contains("berth_gateway_requests_total{route=\"/api\"} 8"),
        "{metrics}"
    );
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// What the upstream sees through the gateway, from a server that answers with
/// the request line and headers it was sent.
#[test]
fn the_gateway_proxies_as_a_reverse_proxy_should() {
    let [echo, gateway] = free_ports(2)[..] else {
        unreachable!()
    };
    let script = r#"
import http.server, os
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.path + "\n" + str(self.headers)).encode()
        self.send_response(200)
        self.send_header("Connection", "keep-alive, X-Upstream-Secret")
        self.send_header("X-Upstream-Secret", "u")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Echo).serve_forever()
"#;
    let dir = scratch("proxying");
    std::fs::write(dir.join("echo.py"), script).unwrap();
    let yaml = format!(
        "name: proxying\nservices:\n  echo:\n    local: {{ run: [python3, echo.py] }}\n    ports: {{ http: {echo} }}\n    health: {{ readiness: {{ tcp: http, period: 100ms }} }}\n    routes: [/, {{ prefix: /rw, rewrite: /inner }}]\nenvironments:\n  local: {{ gateway: {{ port: {gateway} }} }}\n"
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let mut up = Up::start_in(dir, &[]);
    up.wait_for("1 service up", LONG);
    let answer = raw_request(
        gateway,
        "GET /rw/../../admin?x=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nProxy-Authorization: Basic eDp5\r\nKeep-Alive: 5\r\nTE: trailers\r\n\r\n",
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let body = body.to_ascii_lowercase();
    assert!(
        body.starts_with("/admin?x=1\n"),
        "dot segments resolved before routing: {body}"
    );
    for header in ["x-secret", "proxy-authorization", "keep-alive", "te:"] {
        assert!(!body.contains(header), "{header} is hop-by-hop: {body}");
    }
    assert!(body.contains("x-forwarded-for: 127.0.0.1"), "{body}");
    assert!(body.contains("x-forwarded-proto: http"), "{body}");
    assert!(body.contains("x-forwarded-host: example.test"), "{body}");
    let head = head.to_ascii_lowercase();
    assert!(
        !head.contains("x-upstream-secret") && !head.contains("keep-alive: timeout"),
        "{head}"
    );
    let rewritten = raw_request(
        gateway,
        "GET /rw/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(rewritten.contains("\r\n\r\n/inner/a\n"), "{rewritten}");
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

fn raw_request(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// A secret's source variable is berth's alone: the service that declares the
/// secret gets it under its own name, and no other child sees either.
#[test]
fn secrets_reach_only_the_services_that_declare_them() {
    let [a, b] = free_ports(2)[..] else {
        unreachable!()
    };
    // The harness exports QUICKSTART_SESSION_SECRET=test-secret to berth.
    let yaml = format!(
        "name: secrets\nservices:\n  a:\n    local: {{ run: \"env > a.env; exec berth workload\" }}\n    ports: {{ http: {a} }}\n    health: {{ readiness: /ready }}\n    secrets: {{ TOKEN: {{ env: QUICKSTART_SESSION_SECRET }} }}\n  b:\n    local: {{ run: \"env > b.env; exec berth workload\" }}\n    ports: {{ http: {b} }}\n    health: {{ readiness: {{ exec: \"env > probe.env\", period: 100ms }} }}\n"
    );
    let mut up = Up::start("secrets", &yaml, &[]);
    up.wait_for("2 services up", LONG);
    let read = |name: &str| std::fs::read_to_string(up.dir.join(name)).unwrap();
    let (a_env, b_env, probe_env) = (read("a.env"), read("b.env"), read("probe.env"));
    assert!(a_env.contains("TOKEN=test-secret\n"));
    for (who, env) in [("a", &a_env), ("b", &b_env), ("b's probe", &probe_env)] {
        assert!(
            !env.contains("QUICKSTART_SESSION_SECRET"),
            "{who} sees the source"
        );
    }
    assert!(!b_env.contains("test-secret") && !probe_env.contains("test-secret"));
    let berth_pid = up.child.id();
    for (pid, _) in support::marked(&up.marker) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let leaked = environ
            .split(|b| *b == 0)
            .any(|v| v.starts_with(b"QUICKSTART_SESSION_SECRET="));
        assert!(
            pid == berth_pid || !leaked,
            "process {pid} inherited the source"
        );
    }
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// An exec probe that hangs is killed with all it started when it times out,
/// runs once per period, and goes with berth when berth is killed.
#[test]
fn exec_probes_that_hang_leave_nothing_behind() {
    let yaml = "name: probes\nservices:\n  slow:\n    local: { run: [berth, workload, --port, '0'] }\n    health:\n      readiness: { exec: \"echo run >> runs.txt; sleep 3600\", period: 300ms, timeout: 100ms }\n";
    let mut up = Up::start("probes", yaml, &[]);
    up.wait_for("slow started", LONG);
    std::thread::sleep(Duration::from_millis(2_000));
    let runs = std::fs::read_to_string(up.dir.join("runs.txt")).unwrap_or_default();
    let count = runs.lines().count();
    // Once per 300 ms period plus its 100 ms timeout: about five in two seconds.
    assert!((2..=8).contains(&count), "{count} runs in 2 s");
    let sleeping = up
        .survivors()
        .into_iter()
        .filter(|p| p.contains("sleep 3600"))
        .count();
    assert!(sleeping <= 1, "{sleeping} probes still running");
    up.signal("-KILL");
    let left = up.survivors_after(Duration::from_secs(3));
    assert!(left.is_empty(), "{left:?}");
}

/// A service whose child daemonises: berth sees the service exit when it exits,
/// and what it left behind — out of its group, holding its pipes or not — goes
/// when the service does, at `down`, and when berth is killed.
#[test]
fn what_a_daemonising_service_leaves_behind_is_stopped() {
    let yaml = "name: daemons\nservices:\n  forks:\n    local: { run: \"setsid sleep 27182 & echo forked; exit 3\" }\n    restart: never\n  detached:\n    local: { run: \"setsid sleep 27183 < /dev/null > /dev/null 2>&1 & exec berth workload --port 0\" }\n";
    let mut up = Up::start("daemons", yaml, &[]);
    up.wait_for("2 services up", LONG);
    let (exited, _) = up.wait_for("forks", LONG);
    let deadline = Instant::now() + Duration::from_secs(3);
    let state = loop {
        let status = support::berth(&up.dir, &up.marker, &["status", "-o", "json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let forks = status["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["service"] == "forks")
            .unwrap()
            .clone();
        if forks["state"] != "running" || Instant::now() > deadline {
            break forks;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exited.elapsed() < Duration::from_secs(3));
    assert_eq!(state["state"], "exited (3)", "{state}");
    let sleeping = |n: &str| up.survivors().iter().any(|p| p.contains(n));
    assert!(
        !sleeping("sleep 27182"),
        "the daemon holding the pipes went with its service"
    );
    assert!(
        sleeping("sleep 27183"),
        "a daemon of a running service runs"
    );
    up.signal("-KILL");
    let left = up.survivors_after(Duration::from_secs(5));
    assert!(left.is_empty(), "killing berth left {left:?}");

    let mut up = Up::start("daemons-down", yaml, &[]);
    up.wait_for("2 services up", LONG);
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
    let left = up.survivors_after(Duration::from_secs(5));
    assert!(left.is_empty(), "{left:?}");
}

/// Each seed ecosystem runs on a laptop: the stand-in workload plays the
/// applications, and in the default environment the data stores too.
#[test]
fn every_seed_example_comes_up_locally_and_stops_cleanly() {
    for (example, services) in [
        ("runeframe", 9),
        ("srvthreds", 7),
        ("symbi", 12),
        ("openpolicy", 25),
    ] {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../examples/{example}/berth.yaml"));
        let yaml = std::fs::read_to_string(source).unwrap();
        let mut up = Up::start(&format!("example-{example}"), &yaml, &[]);
        up.wait_for(&format!("berth: {services} services up"), LONG);
        up.signal("-INT");
        assert_eq!(up.exit_code(LONG), Some(0), "{example}");
        let left = up.survivors_after(Duration::from_secs(1));
        assert!(left.is_empty(), "{example}: {left:?}");
    }
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_after_its_grace_period() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let dir = scratch("grace");
    std::fs::write(
        dir.join("settings.env"),
        "# a comment\nGREETING=\"hello from the env file\"\n",
    )
    .unwrap();
    let yaml = format!(
        "name: stubborn\nservices:\n  mule:\n    local: {{ run: \"trap 'echo ignoring TERM' TERM; echo $GREETING; berth workload & while true; do sleep 0.05; done\" }}\n    ports: {{ http: {port} }}\n    env_file: [settings.env]\n    stop_grace_period: 400ms\n"
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let mut up = Up::start_in(dir, &[]);
    up.wait_for("mule | hello from the env file", LONG);
    up.wait_for("1 service up", LONG);
    let asked = Instant::now();
    up.signal("-INT");
    up.wait_for("ignoring TERM", LONG);
    let stopped = up.wait_for("berth: mule stopped", LONG).0;
    // SIGTERM follows the interrupt, and SIGKILL follows that by the grace period.
    let waited = stopped - asked;
    assert!(
        waited >= Duration::from_millis(400),
        "killed after the grace period, not before: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "and not much later: {waited:?}"
    );
    assert_eq!(up.exit_code(LONG), Some(0));
    assert!(
        up.survivors_after(Duration::from_secs(1)).is_empty(),
        "the background workload went with its group"
    );
}

#[test]
fn berth_run_runs_a_named_deployment_and_refuses_other_names() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: named\nservices:\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {port} }}\ndeployments:\n  only-api: {{ services: [api] }}\n"
    );
    let dir = scratch("run");
    std::fs::write(dir.join("berth.yaml"), &yaml).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["run", "only-ap"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("did you mean `only-api`?"));
    let mut up = Up::command_in(dir, &["run", "only-api"]);
    up.wait_for("1 service up", LONG);
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// A list runs as its argv — no shell sees `;` — and a string through `sh -c`;
/// what either leaves running in its group goes when it ends.
#[test]
fn pre_commands_run_as_written_and_leave_nothing_behind() {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: pre\nservices:\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {port} }}\ndeployments:\n  with-pre:\n    services: [api]\n    pre: [[printf, \"%s\\n\", \"a; echo INJECTED\"], \"sleep 271828 & echo left a sleeper\"]\n"
    );
    let mut up = Up::start("pre", &yaml, &["with-pre"]);
    up.wait_for("left a sleeper", LONG);
    up.wait_for("1 service up", LONG);
    let transcript = up.transcript();
    assert!(transcript.contains("a; echo INJECTED"), "{transcript}");
    assert!(
        !transcript.lines().any(|line| line.trim() == "INJECTED"),
        "{transcript}"
    );
    let sleepers = || {
        std::process::Command::new("pgrep")
            .args(["-f", "^sleep 271828$"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while sleepers() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        sleepers(),
        0,
        "the backgrounded sleep went with its command"
    );
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0));
}

/// The second of the situations in process-compose #544 and #530: a dependency that
/// was healthy goes down while its dependent still waits on another gate. The
/// dependent must wait for it to be healthy again, not start on a stale answer.
#[test]
fn a_dependent_waits_again_when_a_gate_it_passed_goes_down() {
    let [a, b] = free_ports(2)[..] else {
        unreachable!()
    };
    let run_a = "if [ -f second ]; then exec berth workload --start-delay 700ms; else touch second; exec berth workload --crash-after 300ms; fi";
    let yaml = format!(
        "name: regate\nservices:\n  a:\n    local: {{ run: \"{run_a}\" }}\n    ports: {{ http: {a} }}\n    health: {{ readiness: /ready }}\n    restart: {{ policy: on_failure, backoff: 100ms }}\n  slow:\n    kind: job\n    local: {{ run: \"sleep 0.6\" }}\n  b:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {b} }}\n    depends_on: {{ a: healthy, slow: completed }}\n"
    );
    let mut up = Up::start("regate", &yaml, &[]);
    up.wait_for("3 services up", LONG);
    let runs_ready = up.times_of("| a 1.0.0 listening");
    let b_started = up.times_of("berth: b started");
    assert_eq!(
        runs_ready.len(),
        2,
        "a crashed once and came back:\n{}",
        up.transcript()
    );
    assert!(
        b_started[0] >= runs_ready[1],
        "b started while a was down:\n{}",
        up.transcript()
    );
}
