//! A store of its own for a drill or a replica restore: the kind's binaries
//! on a free port of 127.0.0.1, its files in a folder that goes with it, and
//! its process group killed when it is dropped — or, when berth dies, by a
//! guard (a store's server may be a script that runs the real one as its
//! child, which a death signal to the script would leave behind).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_core::model::LocalPlace;

use nix::sys::signal::Signal;

use super::{BackupError, Store};
use crate::guard::Guard;
use crate::launch::{find_binary, unprivileged};
use crate::process::signal_group;

/// How long a throwaway store may take to answer.
const START: Duration = Duration::from_secs(60);

pub struct Throwaway {
    /// Where its tools reach it.
    pub port: u16,
    child: Child,
    dir: PathBuf,
    guard: Guard,
}

impl Throwaway {
    /// Starts one in `dir` (made, and filled by `fill` before the store starts).
    pub fn start(
        store: &Store,
        dir: &Path,
        fill: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<Throwaway, BackupError> {
        // The store is given its folder by path, and may change directory.
        let dir = &std::path::absolute(dir).map_err(|e| cannot(dir, e))?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
        fill(dir).map_err(|e| cannot(dir, e))?;
        let ports = store
            .kind
            .ports
            .iter()
            .map(|(name, _)| Ok((*name, free_port()?)))
            .collect::<Result<Vec<_>, BackupError>>()?;
        let port = store.kind.tools_port_in(&ports);
        let dir_text = dir.display().to_string();
        // Named apart from the store, which runs beside it (an Erlang node's name
        // is unique on a machine).
        let name = format!("{}-throwaway", store.service);
        let run = (store.kind.local)(&LocalPlace {
            name: &name,
            dir: &dir_text,
            port: ports[0].1,
            ports: &ports,
        });
        let launch = |e: crate::LaunchError| BackupError::new(e.message, e.help);
        let user = match store.kind.refuses_root {
            Some(user) => unprivileged(dir, user, store.kind.kind).map_err(launch)?,
            None => None,
        };
        if let Some((program, args, done)) = run.init
            && !dir.join(done).exists()
        {
            let binary = find_binary(program, store.kind, store.service).map_err(launch)?;
            let mut init = command(&binary, &args, user);
            let output = init.output().map_err(|e| cannot(dir, e))?;
            if !output.status.success() {
                return Err(BackupError::new(
                    format!(
                        "{program} failed: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                    "see what it said; the drill's folder is under .berth/drills",
                ));
            }
        }
        let binary = find_binary(run.program, store.kind, store.service).map_err(launch)?;
        let mut server = command(&binary, &run.args, user);
        let log = std::fs::File::create(log_of(dir)).map_err(|e| cannot(dir, e))?;
        let log_err = log.try_clone().map_err(|e| cannot(dir, e))?;
        server.envs(run.env).stdout(log).stderr(log_err);
        let guard = Guard::start().map_err(|e| cannot(dir, e))?;
        let child = server.spawn().map_err(|e| cannot(dir, e))?;
        guard.watch(child.id());
        let mut throwaway = Throwaway {
            port,
            child,
            dir: dir.to_owned(),
            guard,
        };
        throwaway.wait_ready(store)?;
        Ok(throwaway)
    }

    fn wait_ready(&mut self, store: &Store) -> Result<(), BackupError> {
        let deadline = Instant::now() + START;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let said = std::fs::read_to_string(log_of(&self.dir)).unwrap_or_default();
                let last: Vec<&str> = said.lines().rev().take(5).collect();
                let last: Vec<&str> = last.into_iter().rev().collect();
                return Err(BackupError::new(
                    format!(
                        "a store of its own for `{}` exited at start ({status}):\n  {}",
                        store.service,
                        last.join("\n  ")
                    ),
                    "it runs from the same binaries as the store; see what it said",
                ));
            }
            if ready(store, self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BackupError::new(
                    format!(
                        "a store of its own for `{}` did not answer within {}s",
                        store.service,
                        START.as_secs()
                    ),
                    format!("its files are in {}", self.dir.display()),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        signal_group(self.child.id(), Signal::SIGKILL);
        let _ = self.child.wait();
        self.guard.forget(self.child.id());
        self.guard.dismiss();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(log_of(&self.dir));
    }
}

/// Where the store's own output goes: beside its folder, which it may refuse
/// to start in if it is not empty.
fn log_of(dir: &Path) -> PathBuf {
    dir.with_extension("log")
}

fn ready(store: &Store, port: u16) -> bool {
    match store.kind.local_check {
        Some(check) => {
            let argv = check(port);
            Command::new(&argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }
        None => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    }
}

fn command(binary: &str, args: &[String], user: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(binary);
    command.args(args).stdin(Stdio::null()).process_group(0);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    command
}

fn free_port() -> Result<u16, BackupError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| BackupError::new(format!("no free port: {e}"), "free a port of 127.0.0.1"))
}

fn cannot(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::new(
        format!("cannot prepare {}: {e}", path.display()),
        "check the permissions and free space of .berth/ beside berth.yaml",
    )
}
