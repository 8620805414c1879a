//! The berth running for this project, found through `.berth/` beside berth.yaml:
//! its control socket and its state file.

use std::path::{Path, PathBuf};

use berth_core::{Problem, Problems};
use berth_local::{Reply, Request};
use serde::{Deserialize, Serialize};

use super::load;
use crate::cli::Global;

pub struct Session {
    pub dir: PathBuf,
}

/// What a running berth writes about itself, so that the next one can tell
/// whether it is still there or died without cleaning up.
#[derive(Serialize, Deserialize)]
pub struct State {
    pub pid: u32,
    pub environment: String,
}

impl Session {
    pub fn of(global: &Global) -> Result<Session, Problems> {
        let project = load(global)?;
        Ok(Session::in_dir(project.dir()))
    }

    pub fn in_dir(project: &Path) -> Session {
        Session {
            dir: project.join(".berth"),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("berth.sock")
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("berth.json")
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The recorded berth, if any, and whether it is alive.
    pub fn recorded(&self) -> Option<(State, bool)> {
        let text = std::fs::read_to_string(self.state_file()).ok()?;
        let state: State = serde_json::from_str(&text).ok()?;
        let alive = is_running(state.pid);
        Some((state, alive))
    }

    /// Records this berth, atomically: a reader sees the old file or the new one.
    pub fn record(&self, state: &State) -> std::io::Result<()> {
        let temporary = self.dir.join("berth.json.tmp");
        std::fs::write(
            &temporary,
            serde_json::to_vec(state).expect("state serializes"),
        )?;
        std::fs::rename(temporary, self.state_file())
    }

    pub fn forget(&self) {
        let _ = std::fs::remove_file(self.state_file());
        let _ = std::fs::remove_file(self.socket());
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
        _ => {
            println!("{done}");
            Ok(super::Exit::Success)
        }
    }
}
