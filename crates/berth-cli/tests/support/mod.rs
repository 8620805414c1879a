//! Running `berth up` from tests: a scratch directory, its output line by line,
//! signals, and the processes it left behind.
// Each test file that includes this uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

pub mod compose_config;
pub mod images;
pub mod project;
pub mod s3;

/// A `berth up` running in a scratch directory, its output read line by line.
pub struct Up {
    pub child: Child,
    lines: Receiver<(Instant, String)>,
    seen: Vec<(Instant, String)>,
    pub marker: String,
    pub dir: PathBuf,
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ports nothing listens on now.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Up {
    pub fn start(name: &str, yaml: &str, args: &[&str]) -> Up {
        let dir = scratch(name);
        std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
        Up::start_in(dir, args)
    }

    pub fn start_in(dir: PathBuf, args: &[&str]) -> Up {
        let mut argv = vec!["up"];
        argv.extend_from_slice(args);
        Up::command_in(dir, &argv)
    }

    /// Any berth command that runs services, such as `run NAME`.
    pub fn command_in(dir: PathBuf, args: &[&str]) -> Up {
        let marker = format!("{}-{}", dir.display(), rand_suffix());
        let bin = Path::new(env!("CARGO_BIN_EXE_berth"));
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new(bin)
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
    pub fn wait_for(&mut self, text: &str, limit: Duration) -> (Instant, String) {
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

    /// When each line containing `text` arrived, of the lines so far.
    pub fn times_of(&mut self, text: &str) -> Vec<Instant> {
        self.transcript();
        self.seen
            .iter()
            .filter(|(_, line)| line.contains(text))
            .map(|(at, _)| *at)
            .collect()
    }

    pub fn transcript(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// Waits for berth to exit, and returns its exit code.
    pub fn exit_code(&mut self, limit: Duration) -> Option<i32> {
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
    pub fn survivors(&self) -> Vec<String> {
        survivors(&self.marker)
    }

    /// Survivors, allowing the kernel `limit` to finish killing them.
    pub fn survivors_after(&self, limit: Duration) -> Vec<String> {
        survivors_after(&self.marker, limit)
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

/// Runs the script of a store's backup CronJob, as `render --to kubernetes`
/// writes it, against the store `service` of environment `local` on
/// 127.0.0.1:`port`, writing into `folder` and keeping `keep`; the backup it
/// took.
pub fn scheduled_backup(
    kind: berth_core::model::Kind,
    service: &str,
    port: u16,
    folder: &Path,
    keep: u32,
) -> PathBuf {
    let backup: berth_core::model::Backup =
        serde_json::from_value(serde_json::json!({ "retention": keep })).unwrap();
    let script = berth_render::scheduled_backup(
        &berth_render::Scheduled {
            environment: "local",
            service,
            store: berth_core::model::DataStore::of(kind).unwrap(),
            host: "127.0.0.1",
            port,
        },
        &backup,
        &folder.display().to_string(),
    );
    std::fs::create_dir_all(folder).unwrap();
    let ran = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(
        ran.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    // Named by the time taken: the newest sorts last.
    std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .max()
        .expect("a backup")
}

/// Processes whose environment names a path under `folder`: a RabbitMQ a test
/// ran there still running, say. Erlang's port mapper, epmd, is left out:
/// Erlang starts it as a daemon shared by every node on the machine, meant to
/// outlive them.
pub fn processes_naming(folder: &Path) -> Vec<String> {
    let needle = folder.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let command = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let ours = environ
                .split(|b| *b == 0)
                .any(|v| String::from_utf8_lossy(v).contains(&needle));
            (ours && command.trim() != "epmd").then(|| command.trim().to_owned())
        })
        .collect()
}

/// Survivors of a run, allowing the kernel `limit` to finish killing them and
/// the guard to exit, a moment after the berth it watched.
pub fn survivors_after(marker: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let alive = survivors(marker);
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails the test unless every process of the run is gone within a few seconds.
pub fn assert_gone(marker: &str) {
    let left = survivors_after(marker, Duration::from_secs(5));
    assert!(left.is_empty(), "left running: {left:?}");
}

pub fn survivors(marker: &str) -> Vec<String> {
    marked(marker)
        .into_iter()
        .map(|(_, cmdline)| cmdline)
        .collect()
}

/// The live processes that carry `marker`, with their command lines.
pub fn marked(marker: &str) -> Vec<(u32, String)> {
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
            let pid: u32 = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            // A zombie is dead already, waiting only to be reaped.
            if is_alive(pid) {
                found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
            }
        }
    }
    found
}

pub fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Whether `pid` is a live process (a zombie is not).
pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

/// The compose command this machine has: the plugin, or docker-compose.
/// Says that a test did not run, and why: straight to stderr, past the test
/// harness's capture, so that every run shows it. Under `CI=true`, where
/// `.ci/run` installs what the tests need, it fails the test instead.
pub fn not_run(why: &str) {
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "NOT RUN in CI: {why}"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("NOT RUN: {why}\n").as_bytes(),
    );
}

pub fn compose() -> Option<Vec<&'static str>> {
    let works = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    [vec!["docker", "compose"], vec!["docker-compose"]]
        .into_iter()
        .find(|argv| works(argv))
}

/// PATH with the berth under test first, so that `berth workload` in a
/// berth.yaml runs it.
pub fn path_with_berth() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_berth"));
    format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `berth ARGS` in `dir`, its processes marked with `marker` for `survivors`.
pub fn berth(dir: &Path, marker: &str, args: &[&str]) -> std::process::Output {
    berth_with(dir, marker, args, &[])
}

/// `berth` with `env` set as well.
pub fn berth_with(
    dir: &Path,
    marker: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("BERTH_TEST_RUN", marker)
        .env("PATH", path_with_berth())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `redis-cli -p PORT ARGS…`, which must succeed; what it printed, trimmed.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// What a command printed, stdout then stderr.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether `program` is installed: on PATH, or — PostgreSQL's server
/// programs, which Debian keeps off it — where berth looks for them too.
pub fn installed(program: &str) -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    let debian_postgres = || {
        Path::new("/usr/lib/postgresql")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    };
    on_path || (program == "initdb" && debian_postgres())
}

/// Whether `program` is missing, which is said as a test NOT RUN.
pub fn missing(program: &str) -> bool {
    if installed(program) {
        return false;
    }
    not_run(&format!(
        "`{program}` is not installed on this machine (`.ci/run` installs it)"
    ));
    true
}
