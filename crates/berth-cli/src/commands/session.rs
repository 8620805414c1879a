//! The berth running for this project, found through `.berth/` beside berth.yaml:
//! its control socket and its state file.

use std::path::{Path, PathBuf};

use berth_core::{Problem, Problems};
use berth_local::{Reply, Request, StateDir};

use super::load;
use crate::cli::Global;

pub struct Session {
    pub dir: PathBuf,
    state: StateDir,
}

impl Session {
    pub fn of(global: &Global) -> Result<Session, Problems> {
        let project = load(global)?;
        Ok(Session::in_dir(project.dir()))
    }

    pub fn in_dir(project: &Path) -> Session {
        let state = StateDir::of(project);
        Session {
            dir: state.0.clone(),
            state,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.state.socket()
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Whether a berth runs here: the holder of the project's lock, never a pid
    /// read from a file, which may have been reused.
    pub fn found(&self) -> Found {
        if let Some(pid) = self.state.running() {
            return Found::Running(pid);
        }
        match self.state.recorded() {
            Some(state) => Found::Gone(state.pid),
            None => Found::Nothing,
        }
    }

    /// The environment the berth that runs here, or ran last, was started for.
    pub fn environment(&self) -> Option<String> {
        self.state.recorded().map(|state| state.environment)
    }

    /// Clears what a berth that ended without stopping left behind.
    pub fn clear_leftovers(&self) {
        self.state.clear_if_unused();
    }

    /// Returns once the running berth answers: one that has just taken the lock
    /// opens its socket a moment later.
    pub fn wait_until_answering(&self) -> Result<(), Problems> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match self.request(&Request::Status) {
                Ok(_) => return Ok(()),
                Err(problems)
                    if !matches!(self.found(), Found::Running(_))
                        || std::time::Instant::now() > deadline =>
                {
                    return Err(problems);
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }

    /// Sends a request to the running berth.
    pub fn request(&self, request: &Request) -> Result<Reply, Problems> {
        berth_local::request(&self.socket(), request).map_err(|e| {
            let problem = match self.found() {
                Found::Running(pid) => Problem::new(format!(
                    "berth (pid {pid}) runs here but does not answer on {}: {e}",
                    self.socket().display()
                ))
                .help(format!(
                    "try again in a moment; `kill {pid}` stops it and its services"
                )),
                Found::Gone(pid) => Problem::new(format!(
                    "the berth that ran here (pid {pid}) is gone without stopping cleanly"
                ))
                .help("its services went with it; start again with `berth up`"),
                Found::Nothing => Problem::new("no berth is running for this berth.yaml")
                    .help("start one with `berth up -d`"),
            };
            Problems::one(problem)
        })
    }
}

/// What `.berth/` says of the berth for this project.
pub enum Found {
    /// A berth runs, with this pid.
    Running(u32),
    /// A berth ran, with this pid, and ended without cleaning up.
    Gone(u32),
    Nothing,
}

/// Sends the request `for_service` makes for each of `services` in turn, saying
/// `VERB SERVICE` once each is done; the first refusal stops there.
pub fn ask_each(
    global: &Global,
    services: &[String],
    for_service: impl Fn(String) -> Request,
    verb: &str,
) -> Result<super::Exit, Problems> {
    for service in services {
        ask(
            global,
            &for_service(service.clone()),
            &format!("{verb} {service}"),
        )?;
    }
    Ok(super::Exit::Success)
}

/// Sends `request` to this project's running berth and says `done` once it is.
pub fn ask(global: &Global, request: &Request, done: &str) -> Result<super::Exit, Problems> {
    match Session::of(global)?.request(request)? {
        Reply::Error { message } => Err(Problems::one(Problem::new(message))),
        Reply::Said { message } => {
            println!("{message}");
            Ok(super::Exit::Success)
        }
        _ => {
            println!("{done}");
            Ok(super::Exit::Success)
        }
    }
}
