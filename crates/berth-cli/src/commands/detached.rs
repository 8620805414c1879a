//! `berth up -d`: the same berth, started in the background with its output in
//! `.berth/berth.log`; this process returns once everything is up.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_core::{Problem, Problems, Project};
use berth_local::{Progress, Reply, Request};

use super::Exit;
use super::session::Session;
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
    let log = std::fs::File::create(&log_path).map_err(|e| cannot("write .berth/berth.log", e))?;
    let file = std::path::absolute(&project.path).map_err(|e| cannot("find berth.yaml", e))?;
    let mut command =
        Command::new(std::env::current_exe().map_err(|e| cannot("find the berth binary", e))?);
    command.arg("-f").arg(file);
    if let Some(environment) = &global.environment {
        command.args(["-e", environment]);
    }
    command
        .args(["up", "--quiet"])
        .args(names)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| cannot("write .berth/berth.log", e))?,
        )
        .stderr(log)
        // Its own process group: a Ctrl-C in this terminal is not for it.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| cannot("start berth in the background", e))?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(gave_up(&log_path, &format!("berth exited with {status}")));
        }
        if let Ok(Reply::Status { progress, .. }) =
            berth_local::request(&session.socket(), &Request::Status)
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
                    return Ok(gave_up(&log_path, &message));
                }
                Progress::Starting | Progress::Stopping => {}
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gave_up(log: &std::path::Path, message: &str) -> Exit {
    eprintln!("error: {message}");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("  last lines of {}:", log.display());
    for line in &lines[lines.len().saturating_sub(20)..] {
        eprintln!("  | {line}");
    }
    Exit::Failed
}
