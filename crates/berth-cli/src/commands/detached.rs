//! `berth up -d`: the same berth, started in the background with its output in
//! `.berth/berth.log`; this process returns once everything is up.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_core::{Problem, Problems, Project};
use berth_local::{InstanceReport, Progress, Reply, Request};

use super::Exit;
use super::session::{Found, Session};
use crate::cli::Global;

pub fn start(
    project: &Project,
    global: &Global,
    names: &[String],
    session: &Session,
) -> Result<Exit, Problems> {
    let cannot =
        |what: &str, e: std::io::Error| Problems::one(Problem::new(format!("cannot {what}: {e}")));
    std::fs::create_dir_all(&session.dir).map_err(|e| cannot("create .berth/", e))?;
    let log_path = session.dir.join("berth.log");
    let file = std::path::absolute(&project.path).map_err(|e| cannot("find berth.yaml", e))?;
    let mut command =
        Command::new(std::env::current_exe().map_err(|e| cannot("find the berth binary", e))?);
    command.arg("-f").arg(file);
    if let Some(environment) = &global.environment {
        command.args(["-e", environment]);
    }
    // The background berth opens its log itself, once it holds the project's lock;
    // until then what it says comes back here.
    command
        .args(["up", "--quiet", "--log-to"])
        .arg(&log_path)
        .args(names)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C in this terminal is not for it.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| cannot("start berth in the background", e))?;
    let mut said_at = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut said = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut said);
            }
            return Ok(gave_up(
                &log_path,
                &format!("berth exited with {status}"),
                &said,
            ));
        }
        // Another berth may answer on the socket: only ours counts.
        let ours = matches!(session.found(), Found::Running(pid) if pid == child.id());
        if ours
            && let Ok(Reply::Progress { progress }) =
                berth_local::request(&session.socket(), &Request::Progress)
        {
            match progress {
                Progress::Up => {
                    println!(
                        "berth: up in the background (pid {}); `berth status`, `berth logs -f` and `berth down` reach it",
                        child.id()
                    );
                    return Ok(Exit::Success);
                }
                Progress::Failed(message) => {
                    let _ = child.wait();
                    return Ok(gave_up(&log_path, &message, ""));
                }
                Progress::Starting if said_at.elapsed() >= PROGRESS_EVERY => {
                    if let Ok(Reply::Status { instances, .. }) =
                        berth_local::request(&session.socket(), &Request::Status)
                    {
                        println!("berth: still starting; {}", waiting_on(&instances));
                    }
                    said_at = Instant::now();
                }
                Progress::Starting | Progress::Stopping => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How often a start that takes a while says what it waits for.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// `api (running, not ready; 2 restarts), worker (waiting)`.
fn waiting_on(instances: &[InstanceReport]) -> String {
    let waiting: Vec<String> = instances
        .iter()
        .filter(|i| !i.ready)
        .map(|i| match i.restarts {
            0 => format!("{} ({})", i.instance, i.state),
            n => format!("{} ({}; {n} restarts)", i.instance, i.state),
        })
        .collect();
    if waiting.is_empty() {
        "the next services are waiting for their dependencies".to_owned()
    } else {
        format!("not ready yet: {}", waiting.join(", "))
    }
}

/// Says why the background berth did not come up: in its own words if it ended
/// before it had a log (the log then is another berth's), else the log's last lines.
fn gave_up(log: &std::path::Path, message: &str, said: &str) -> Exit {
    if !said.trim().is_empty() {
        eprint!("{said}");
        return Exit::Failed;
    }
    eprintln!("error: {message}");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("  last lines of {}:", log.display());
    for line in &lines[lines.len().saturating_sub(20)..] {
        eprintln!("  | {line}");
    }
    Exit::Failed
}
