//! `berth up -d` and the commands that reach a running berth: status, logs,
//! restart, stop, down — and what the next berth finds when one was killed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{assert_gone, berth, free_ports, scratch, survivors, text};

fn status(dir: &Path, marker: &str) -> serde_json::Value {
    let output = berth(dir, marker, &["status", "-o", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn instance<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == name)
        .unwrap()
}

fn project(name: &str) -> (PathBuf, String) {
    project_where_api_runs(name, "[berth, workload]")
}

/// `api`, and a `worker` that waits for it to be healthy; `api` runs `run`.
fn project_where_api_runs(name: &str, run: &str) -> (PathBuf, String) {
    let ports = free_ports(2);
    let dir = scratch(name);
    let yaml = format!(
        "name: {name}\nservices:\n  api:\n    local: {{ run: {run} }}\n    ports: {{ http: {} }}\n    health: {{ readiness: /ready }}\n  worker:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {} }}\n    health: {{ readiness: /ready }}\n    depends_on: {{ api: healthy }}\n",
        ports[0], ports[1]
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-detached", dir.display());
    (dir, marker)
}

#[test]
fn detached_up_answers_status_logs_restart_stop_and_down() {
    let (dir, marker) = project("detached");
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains("up in the background"));

    let before = status(&dir, &marker);
    assert_eq!(before["progress"]["progress"], "up");
    let api = instance(&before, "api");
    assert_eq!(
        (api["state"].as_str(), api["ready"].as_bool()),
        (Some("running"), Some(true))
    );
    let worker_pid = instance(&before, "worker")["pid"].as_u64().unwrap();

    let table = text(&berth(&dir, &marker, &["status"]));
    assert!(table.starts_with("SERVICE  REVISION"), "{table}");

    let logs = text(&berth(&dir, &marker, &["logs", "api"]));
    assert!(logs.contains("api | api 1.0.0 listening on port"), "{logs}");
    assert!(!logs.contains("worker |"), "{logs}");
    let last = text(&berth(&dir, &marker, &["logs", "-n", "1", "-t", "api"]));
    assert_eq!(last.lines().count(), 1, "{last}");
    assert!(
        last.starts_with("20") && last.contains("Z api | "),
        "{last}"
    );
    let json = berth(&dir, &marker, &["logs", "-o", "json", "api"]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["instance"], "api");
    assert!(first["line"].as_str().unwrap().contains("api 1.0.0"));
    let refused = berth(&dir, &marker, &["stop", "-o", "json", "worker"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).contains("this command has no JSON output"));

    assert!(
        berth(&dir, &marker, &["restart", "worker"])
            .status
            .success()
    );
    let after = status(&dir, &marker);
    let restarted = instance(&after, "worker");
    assert_ne!(
        restarted["pid"].as_u64().unwrap(),
        worker_pid,
        "a new process"
    );
    assert!(!support::is_alive(worker_pid as u32), "the old one is gone");

    assert!(berth(&dir, &marker, &["stop", "worker"]).status.success());
    assert_eq!(
        instance(&status(&dir, &marker), "worker")["state"],
        "stopped"
    );

    // `status -w` shows the table again when the stopped service starts.
    let mut watching = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["status", "-w"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let start = berth(&dir, &marker, &["start", "worker", "api"]);
    assert!(start.status.success(), "{}", text(&start));
    assert!(
        text(&start).contains("started worker") && text(&start).contains("api is running already")
    );
    assert_eq!(
        instance(&status(&dir, &marker), "worker")["state"],
        "running"
    );
    std::thread::sleep(Duration::from_millis(1_500));
    watching.kill().unwrap();
    let watched = String::from_utf8(watching.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        watched.matches("SERVICE  REVISION").count() >= 2,
        "{watched}"
    );
    assert!(watched.contains("stopped"), "{watched}");
    // Several at once, and `--file` after the command as well as before it.
    let file = dir.join("berth.yaml");
    let restart = berth(
        &dir,
        &marker,
        &["restart", "api", "worker", "--file", file.to_str().unwrap()],
    );
    assert!(restart.status.success(), "{}", text(&restart));
    assert!(
        text(&restart).contains("restarted api") && text(&restart).contains("restarted worker")
    );

    let unknown = berth(&dir, &marker, &["restart", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown).contains("there is no service `nope`"));

    let down = berth(&dir, &marker, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(&marker);
    assert!(!dir.join(".berth/berth.sock").exists() && !dir.join(".berth/berth.json").exists());
    // As after `down`, and as `docker compose ps`: nothing running is an answer.
    let after_down = berth(&dir, &marker, &["status"]);
    assert_eq!(after_down.status.code(), Some(0));
    assert!(
        text(&after_down).contains("nothing is running"),
        "{}",
        text(&after_down)
    );
    let json = berth(&dir, &marker, &["status", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["instances"], serde_json::json!([]));
}

#[test]
fn a_killed_berth_is_reported_as_gone_and_the_next_up_works() {
    let (dir, marker) = project("stale");
    assert!(berth(&dir, &marker, &["up", "-d"]).status.success());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".berth/berth.json")).unwrap()).unwrap();
    let pid = state["pid"].as_u64().unwrap();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert_gone(&marker);

    let stale = berth(&dir, &marker, &["status"]);
    assert_eq!(stale.status.code(), Some(0));
    assert!(
        text(&stale).contains(&format!(
            "the berth that ran here (pid {pid}) is gone without stopping cleanly"
        )),
        "{}",
        text(&stale)
    );

    let again = berth(&dir, &marker, &["up", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains(&format!(
        "the berth that ran here before (pid {pid}) ended without stopping cleanly"
    )));
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}

#[test]
fn a_second_berth_that_cannot_start_leaves_the_running_one_reachable() {
    let (dir, marker) = project("second");
    assert!(berth(&dir, &marker, &["up", "-d"]).status.success());
    let log = std::fs::read_to_string(dir.join(".berth/berth.log")).unwrap();
    assert!(!log.is_empty());
    // In the foreground, and as the detached berth's own child would be started.
    let second = berth(&dir, &marker, &["up"]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(
        text(&second).contains("berth is already running here"),
        "{}",
        text(&second)
    );
    let log_to = dir.join(".berth/berth.log");
    let child = berth(
        &dir,
        &marker,
        &["up", "--quiet", "--log-to", log_to.to_str().unwrap()],
    );
    assert!(!child.status.success());
    assert!(
        text(&child).contains("berth is already running here"),
        "{}",
        text(&child)
    );
    assert!(dir.join(".berth/berth.json").exists() && dir.join(".berth/berth.sock").exists());
    assert!(
        std::fs::read_to_string(&log_to).unwrap().starts_with(&log),
        "the running berth's log is not truncated"
    );
    assert_eq!(status(&dir, &marker)["progress"]["progress"], "up");
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}

#[test]
fn two_detached_ups_at_once_leave_one_reachable_berth() {
    for round in 0..3 {
        let (dir, marker) = project(&format!("race{round}"));
        let started: Vec<_> = (0..2)
            .map(|_| {
                let (dir, marker) = (dir.clone(), marker.clone());
                std::thread::spawn(move || berth(&dir, &marker, &["up", "-d"]))
            })
            .collect();
        let outputs: Vec<_> = started.into_iter().map(|t| t.join().unwrap()).collect();
        let up = outputs.iter().filter(|o| o.status.success()).count();
        assert!(up >= 1, "{}", outputs.iter().map(text).collect::<String>());
        for output in outputs.iter().filter(|o| !o.status.success()) {
            assert!(text(output).contains("already running"), "{}", text(output));
        }
        assert_eq!(status(&dir, &marker)["progress"]["progress"], "up");
        let running = survivors(&marker);
        let supervisors = running.iter().filter(|p| p.contains(" up ")).count();
        let workloads = running.iter().filter(|p| p.ends_with("workload ")).count();
        assert_eq!((supervisors, workloads), (1, 2), "{running:?}");
        assert!(berth(&dir, &marker, &["down"]).status.success());
        assert_gone(&marker);
    }
}

#[test]
fn stale_or_corrupt_state_does_not_wedge_berth() {
    let (dir, marker) = project("corrupt");
    std::fs::create_dir_all(dir.join(".berth/berth.sock")).unwrap();
    // A pid that lives, but is not a berth: this test's own.
    std::fs::write(
        dir.join(".berth/berth.json"),
        format!(
            "{{\"pid\":{},\"environment\":\"local\"}}",
            std::process::id()
        ),
    )
    .unwrap();
    let status_before = berth(&dir, &marker, &["status"]);
    assert!(
        text(&status_before).contains("is gone without stopping cleanly"),
        "{}",
        text(&status_before)
    );
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(status(&dir, &marker)["progress"]["progress"], "up");
    assert!(berth(&dir, &marker, &["down"]).status.success());
    std::fs::write(dir.join(".berth/berth.json"), "{\"pi").unwrap();
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    std::fs::remove_file(dir.join(".berth/berth.sock")).unwrap();
    let unreachable = berth(&dir, &marker, &["status"]);
    assert!(
        text(&unreachable).contains("runs here but does not answer"),
        "{}",
        text(&unreachable)
    );
    let pid = std::fs::read_to_string(dir.join(".berth/berth.lock")).unwrap();
    Command::new("kill").arg(pid.trim()).status().unwrap();
    assert_gone(&marker);
}

#[test]
fn a_start_that_cannot_succeed_fails_with_its_last_lines() {
    let ports = free_ports(2);
    let dir = scratch("never-ready");
    let yaml = format!(
        "name: never\nservices:\n  api:\n    local: {{ run: \"echo no such thing >&2; exit 127\" }}\n    ports: {{ http: {} }}\n    health: {{ readiness: /ready }}\n    restart: {{ policy: always, backoff: 10ms }}\n",
        ports[0]
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-never", dir.display());
    let started = std::time::Instant::now();
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(!up.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let said = text(&up);
    assert!(
        said.contains("exited 5 times in a row and was never ready"),
        "{said}"
    );
    assert!(said.contains("no such thing"), "{said}");
    assert_gone(&marker);

    // A port another process holds is named before anything starts.
    let holder = std::net::TcpListener::bind(("127.0.0.1", ports[1])).unwrap();
    let yaml = format!(
        "name: taken\nservices:\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {} }}\n",
        ports[1]
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(!up.status.success());
    assert!(
        text(&up).contains(&format!("port {} (http) cannot be listened on", ports[1])),
        "{}",
        text(&up)
    );
    drop(holder);
    assert_gone(&marker);
}

/// Under a low descriptor limit, a flood of idle connections neither spins
/// berth nor cuts off its control socket, and a service killed meanwhile is
/// started again.
#[test]
fn idle_connections_past_the_descriptor_limit_leave_berth_reachable() {
    let (dir, marker) = project("flooded");
    let up = Command::new("sh")
        .args([
            "-c",
            &format!(
                "ulimit -n 256 && exec {} up -d",
                env!("CARGO_BIN_EXE_berth")
            ),
        ])
        .current_dir(&dir)
        .env("BERTH_TEST_RUN", &marker)
        .env("PATH", support::path_with_berth())
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up));
    let before = status(&dir, &marker);
    let port = instance(&before, "api")["port"].as_u64().unwrap();
    let api_port = {
        let yaml = std::fs::read_to_string(dir.join("berth.yaml")).unwrap();
        let at = yaml.find("http: ").unwrap() + 6;
        yaml[at..]
            .split(' ')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    assert_ne!(
        port, api_port as u64,
        "the instance runs behind the service's port"
    );
    // Past what berth accepts (a third of 256) and its listen queue, connecting
    // times out, as with any server at its limit.
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], api_port));
    let idle: Vec<_> = (0..300)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(50)).ok()
        })
        .collect();
    assert!(idle.len() > 150, "{} connections", idle.len());
    let berth_pid = std::fs::read_to_string(dir.join(".berth/berth.lock")).unwrap();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", berth_pid.trim())).unwrap();
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap())
            .collect();
        fields[0] + fields[1]
    };
    let api_pid = instance(&before, "api")["pid"].as_u64().unwrap();
    Command::new("kill")
        .args(["-KILL", &api_pid.to_string()])
        .status()
        .unwrap();
    let ticks = cpu();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        cpu() - ticks < 50,
        "berth spins: {} ticks in 2 s",
        cpu() - ticks
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = status(&dir, &marker);
        let api = instance(&now, "api");
        if api["pid"].as_u64().is_some_and(|pid| pid != api_pid) && api["ready"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "api was not restarted: {now}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(idle);
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}

#[test]
fn a_malformed_env_file_is_named_by_line_never_by_value() {
    let ports = free_ports(1);
    let dir = scratch("env-file");
    std::fs::write(
        dir.join("app.env"),
        "LEVEL=info\nTOKEN=\"sk_live_do_not_print\n",
    )
    .unwrap();
    let yaml = format!(
        "name: envfile\nservices:\n  api:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {} }}\n    env_file: [app.env]\n",
        ports[0]
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-envfile", dir.display());
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(!up.status.success());
    let said = text(&up);
    assert!(
        said.contains("app.env: line 2 is not `KEY=VALUE`"),
        "{said}"
    );
    let log = std::fs::read_to_string(dir.join(".berth/berth.log")).unwrap_or_default();
    for output in [&said, &log] {
        assert!(!output.contains("sk_live_do_not_print"), "{output}");
    }
    let mode = std::fs::metadata(dir.join(".berth/berth.log"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

/// A `run:` string that calls `berth` finds the berth that runs it, though its
/// folder is not on PATH.
#[test]
fn a_run_string_that_calls_berth_finds_this_berth() {
    let ports = free_ports(1);
    let dir = scratch("own-berth");
    let yaml = format!(
        "name: own\nservices:\n  api:\n    local: {{ run: \"exec berth workload\" }}\n    ports: {{ http: {} }}\n    health: {{ readiness: /ready }}\n",
        ports[0]
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-own", dir.display());
    let up = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "-d"])
        .current_dir(&dir)
        .env("BERTH_TEST_RUN", &marker)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(instance(&status(&dir, &marker), "api")["ready"], true);
    assert!(berth(&dir, &marker, &["down"]).status.success());
}

#[test]
fn down_with_volumes_deletes_the_data() {
    let (dir, marker) = project("volumes");
    std::fs::create_dir_all(dir.join(".berth/data/db")).unwrap();
    std::fs::write(dir.join(".berth/data/db/PG_VERSION"), "16").unwrap();
    let kept = berth(&dir, &marker, &["down"]);
    assert!(text(&kept).contains("nothing is running"));
    assert!(
        dir.join(".berth/data/db/PG_VERSION").exists(),
        "down keeps data"
    );
    assert!(
        berth(&dir, &marker, &["down", "--volumes"])
            .status
            .success()
    );
    assert!(!dir.join(".berth/data").exists());
}

#[test]
fn logs_rotate_by_size() {
    let dir = scratch("rotate");
    // 12 MiB of output in 100-byte lines, as fast as `head` can write it.
    let yaml = "name: rotate\nservices:\n  spam:\n    kind: job\n    local: { run: \"head -c 12582912 /dev/zero | tr '\\\\0' x | fold -w 100\" }\n";
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-rotate", dir.display());
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(berth(&dir, &marker, &["down"]).status.success());
    let current = std::fs::metadata(dir.join(".berth/logs/spam.log"))
        .unwrap()
        .len();
    let rotated = std::fs::metadata(dir.join(".berth/logs/spam.log.1"))
        .unwrap()
        .len();
    assert!(rotated >= 10 << 20, "rotated at 10 MiB: {rotated}");
    assert!(
        current > 0 && current < rotated,
        "the rest starts a new file: {current}"
    );
}

/// A service that writes without newlines: its output is cut into lines of at
/// most 64 KiB, rotated by size, and berth does not grow with it.
#[test]
fn output_without_newlines_is_capped_and_rotated() {
    let dir = scratch("no-newlines");
    // 40 MiB of `x` and not one newline.
    let yaml = "name: flood\nservices:\n  spam:\n    local: { run: \"head -c 41943040 /dev/zero | tr '\\\\0' x; sleep 30\" }\n";
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-flood", dir.display());
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let log = dir.join(".berth/logs/spam.log");
    let rotated = dir.join(".berth/logs/spam.log.1");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let written = || {
        [&log, &rotated]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    // Two files of at most 10 MiB each are what is kept of it.
    let rotated_once = || std::fs::metadata(&rotated).is_ok_and(|m| m.len() >= 10 << 20);
    while !(rotated_once() && written() >= 12 << 20) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(dir.join(".berth/berth.lock")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(peak_kib < 150 << 10, "berth grew to {peak_kib} KiB");
    assert!(
        std::fs::metadata(&rotated).unwrap().len() >= 10 << 20,
        "rotated by size"
    );
    let longest = std::fs::read(&rotated)
        .unwrap()
        .split(|b| *b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap();
    assert!(longest <= (64 << 10) + 64, "a line of {longest} bytes");
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}

/// Past the old limit of 256 instances (two threads each, from a pool of 512):
/// every instance has its log, and a dependent waiting for a line of the last
/// one starts.
#[test]
fn three_hundred_instances_each_log_and_a_log_line_gate_on_the_last_opens() {
    let count = 300;
    let ports = free_ports(count);
    let dir = scratch("three-hundred");
    let mut yaml = String::from("name: many\nservices:\n");
    for (i, port) in ports.iter().enumerate() {
        yaml += &format!(
            "  s{i}:\n    local: {{ run: [berth, workload] }}\n    ports: {{ http: {port} }}\n    health: {{ readiness: {{ http: /ready, period: 100ms }} }}\n"
        );
    }
    yaml += &format!(
        "  last:\n    local: {{ run: [berth, workload] }}\n    depends_on: {{ s{}: {{ log: 'listening on port' }} }}\n",
        count - 1
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-many", dir.display());
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let status = status(&dir, &marker);
    let instances = status["instances"].as_array().unwrap();
    assert_eq!(instances.len(), count + 1);
    assert!(
        instances.iter().all(|i| i["state"] == "running"),
        "{status}"
    );
    for i in [0, 255, 256, count - 1] {
        let logs = text(&berth(&dir, &marker, &["logs", &format!("s{i}")]));
        assert!(
            logs.contains(&format!("s{i} 1.0.0 listening on port")),
            "s{i}: {logs}"
        );
    }
    let last = text(&berth(&dir, &marker, &["logs", "last"]));
    assert!(last.contains("last 1.0.0 listening"), "{last}");
    // A reader that closes the pipe early ends berth quietly, as it ends `cat`.
    for format in ["text", "json"] {
        let piped = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "{} status -o {format} | head -n 1",
                    env!("CARGO_BIN_EXE_berth")
                ),
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&piped.stderr);
        assert!(
            !stderr.contains("panicked") && stderr.is_empty(),
            "{stderr}"
        );
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".berth/berth.json")).unwrap()).unwrap();
    let threads = std::fs::read_dir(format!("/proc/{}/task", state["pid"]))
        .unwrap()
        .count();
    assert!(
        threads < 16,
        "a fixed few threads, not one per instance: {threads}"
    );
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}

/// What one connection to the control socket gets for `request`, sent as is.
fn on_socket(dir: &Path, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::os::unix::net::UnixStream::connect(dir.join(".berth/berth.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// The control API against clients that misbehave: idle connections, bytes
/// that are no HTTP, a deployment request that is no JSON, a path it does not
/// serve, a service name with a slash. Each gets its answer; `status` still
/// answers at once, and nothing was deployed.
#[test]
fn the_control_api_answers_what_misbehaves_and_keeps_serving() {
    let (dir, marker) = project("control-api");
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let socket = dir.join(".berth/berth.sock");
    let idle: Vec<_> = (0..50)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    let garbage = on_socket(&dir, b"\x00\x01\x02 not http at all\r\n\r\n");
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage:?}"
    );
    let body = "{ not json";
    let bad_deploy = on_socket(
        &dir,
        format!("POST /v1/deploy HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes(),
    );
    assert!(bad_deploy.starts_with("HTTP/1.1 400"), "{bad_deploy}");
    assert!(
        bad_deploy.contains("not a deployment request"),
        "{bad_deploy}"
    );
    let unknown = on_socket(
        &dir,
        b"GET /v1/nothing-here HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n",
    );
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    let slash = on_socket(&dir, b"POST /v1/services/..%2Fapi/restart HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(
        slash.contains("there is no service `../api` running"),
        "{slash}"
    );
    let restart = berth(&dir, &marker, &["restart", "a/b"]);
    assert_eq!(restart.status.code(), Some(2), "{}", text(&restart));

    let started = std::time::Instant::now();
    let now = status(&dir, &marker);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "status waited on the idle ones"
    );
    assert_eq!(instance(&now, "api")["restarts"], 0);
    let history = berth(&dir, &marker, &["history", "-o", "json"]);
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "only the first revision: {history}"
    );
    drop(idle);
    let down = berth(&dir, &marker, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(&marker);
}

#[test]
fn a_slow_detached_up_says_what_it_waits_for_and_returns_once_all_are_up() {
    let (dir, marker) =
        project_where_api_runs("slow-detached", "[berth, workload, --start-delay, 6s]");
    let up = berth(&dir, &marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let said = text(&up);
    assert!(
        said.contains("berth: still starting; not ready yet: api (running)"),
        "{said}"
    );
    assert!(said.contains("up in the background"), "{said}");
    let now = status(&dir, &marker);
    assert_eq!(now["progress"]["progress"], "up");
    assert_eq!(instance(&now, "worker")["ready"], true);
    assert!(berth(&dir, &marker, &["down"]).status.success());
    assert_gone(&marker);
}
