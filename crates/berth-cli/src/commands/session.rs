//! The berth running for this project, found through `.berth/` beside berth.yaml:
//! its control socket and its state file.

use std::path::{Path, PathBuf};

use berth_core::{Problem, Problems};
use berth_local::{Reply, Request, State, StateDir};

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

    /// The recorded berth, if any, and whether it is alive.
    pub fn recorded(&self) -> Option<(State, bool)> {
        let state = self.state.recorded()?;
        let alive = is_running(state.pid);
        Some((state, alive))
    }

    pub fn forget(&self) {
        self.state.forget();
    }

    /// Sends a request to the running berth.
    pub fn request(&self, request: &Request) -> Result<Reply, Problems> {
        berth_local::request(&self.socket(), request).map_err(|_| {
            let problem = match self.recorded() {
                Some((state, false)) => Problem::new(format!(
                    "the berth that ran here (pid {}) is gone without stopping cleanly",
                    state.pid
                ))
                .help("its services went with it; start again with `berth up`"),
                _ => Problem::new("no berth is running for this berth.yaml")
                    .help("start one with `berth up -d`"),
            };
            Problems::one(problem)
        })
    }
}

/// Whether `pid` is a live process — not a zombie waiting to be reaped.
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses.
            let after_name = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(after_name != 'Z' && after_name != 'X')
        })
        .unwrap_or(false)
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
