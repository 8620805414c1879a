//! `berth up` with real processes, sockets and signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A `berth up` running in a scratch directory, its output read line by line.
struct Up {
    child: Child,
    lines: Receiver<(Instant, String)>,
    seen: Vec<(Instant, String)>,
    marker: String,
    dir: PathBuf,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ports nothing listens on now.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Up {
    fn start(name: &str, yaml: &str, args: &[&str]) -> Up {
        let dir = scratch(name);
        std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
        Up::start_in(dir, args)
    }

    fn start_in(dir: PathBuf, args: &[&str]) -> Up {
        let marker = format!("{}-{}", dir.display(), rand_suffix());
        let bin = Path::new(env!("CARGO_BIN_EXE_berth"));
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new(bin)
            .arg("up")
            .args(args)
            .current_dir(&dir)
            .env("BERTH_TEST_RUN", &marker)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("QUICKSTART_SESSION_SECRET", "test-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            });
        }
        Up {
            child,
            lines,
            seen: Vec::new(),
            marker,
            dir,
        }
    }

    /// The first line (seen before or arriving within `limit`) that contains `text`.
    fn wait_for(&mut self, text: &str, limit: Duration) -> (Instant, String) {
        if let Some(found) = self.seen.iter().find(|(_, line)| line.contains(text)) {
            return found.clone();
        }
        let deadline = Instant::now() + limit;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            if line.1.contains(text) {
                return line;
            }
        }
        panic!(
            "no line with `{text}` within {limit:?}; saw:\n{}",
            self.transcript()
        );
    }

    fn transcript(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// Waits for berth to exit, and returns its exit code.
    fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "berth still running after {limit:?}:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Processes that carry this run's marker in their environment: berth's
    /// children and theirs.
    fn survivors(&self) -> Vec<String> {
        survivors(&self.marker)
    }

    /// Survivors, allowing the kernel `limit` to finish killing them.
    fn survivors_after(&self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let alive = self.survivors();
            if alive.is_empty() || Instant::now() > deadline {
                return alive;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn survivors(marker: &str) -> Vec<String> {
    let needle = format!("BERTH_TEST_RUN={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Ok(environ) = std::fs::read(path.join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
            let state = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            // A zombie is dead already, waiting only to be reaped.
            if state.split_whitespace().nth(2) != Some("Z") {
                found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
            }
        }
    }
    found
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The quickstart on free ports.
fn quickstart() -> (String, [u16; 3]) {
    let ports = free_ports(3);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/berth.yaml");
    let yaml = std::fs::read_to_string(repo)
        .unwrap()
        .replace("http: 9001", &format!("http: {}", ports[0]))
        .replace("http: 9002", &format!("http: {}", ports[1]))
        .replace("http: 9003", &format!("http: {}", ports[2]));
    (yaml, [ports[0], ports[1], ports[2]])
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_quickstart_comes_up_serves_and_stops_cleanly_on_ctrl_c() {
    let (yaml, [api, web, _]) = quickstart();
    let mut up = Up::start("quickstart", &yaml, &[]);
    up.wait_for("4 services up", LONG);
    assert!(get(api, "/hello").contains("api 0.1.0 /hello"));
    assert!(get(web, "/ready").starts_with("HTTP/1.0 200"));
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
        let left = up.survivors_after(Duration::from_secs(1));
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
