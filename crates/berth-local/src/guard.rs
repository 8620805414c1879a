//! The guard: a small shell process that outlives berth by a moment, to kill every
//! process group berth started if berth itself is killed.
//!
//! berth tells the guard, through a pipe, each group it starts (`PGID`) and
//! each that is gone (`-PGID`). When the pipe closes —
//! berth exited, crashed or was killed with SIGKILL, the kernel closes it either
//! way — the guard kills the groups still listed, then, unless berth said it
//! ended cleanly (`done`), every process that carries berth's session mark
//! (daemons that left their group), and exits.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

const SCRIPT: &str = r#"groups=" "
clean=
while read -r line; do
  case "$line" in
    done) clean=1 ;;
    -*) group=${line#-}; groups="${groups%% $group *} ${groups#* $group }" ;;
    *) groups="$groups$line " ;;
  esac
done
for group in $groups; do kill -9 "-$group" 2>/dev/null; done
[ -n "$clean" ] && exit 0
for environ in $(grep -lzx "BERTH_SESSION=$1" /proc/[0-9]*/environ 2>/dev/null); do
  pid=${environ#/proc/}; kill -9 "${pid%/environ}" 2>/dev/null
done
"#;

pub struct Guard {
    /// Kept so that the guard is reaped when berth exits normally.
    _process: Child,
    pipe: Mutex<ChildStdin>,
}

impl Guard {
    pub fn start() -> std::io::Result<Guard> {
        let mut command = Command::new("sh");
        crate::process::without_secret_sources(&mut command);
        let mut process = command
            .arg("-c")
            .arg(SCRIPT)
            .arg("berth-guard")
            .arg(crate::process::session_mark())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so that a Ctrl-C meant for berth does not end it early.
            .process_group(0)
            .spawn()?;
        let pipe = process.stdin.take().expect("stdin is piped");
        Ok(Guard {
            _process: process,
            pipe: Mutex::new(pipe),
        })
    }

    pub fn watch(&self, group: u32) {
        self.tell(&format!("{group}\n"));
    }

    pub fn forget(&self, group: u32) {
        self.tell(&format!("-{group}\n"));
    }

    /// Watches the group led by `pid` until the returned value is dropped,
    /// which kills what is left of the group and forgets it.
    pub fn group(&self, pid: u32) -> WatchedGroup<'_> {
        self.watch(pid);
        WatchedGroup { pid, guard: self }
    }

    /// berth has stopped everything it started, marked processes too: when it
    /// exits, the guard has no search to make.
    pub fn dismiss(&self) {
        self.tell("done\n");
    }

    fn tell(&self, line: &str) {
        // If the guard is gone there is nobody to tell; berth's own stop still
        // ends every group.
        let _ = self
            .pipe
            .lock()
            .expect("guard lock")
            .write_all(line.as_bytes());
    }
}

/// A process group the guard watches, killed whole when this is dropped: when
/// its command ends, fails or is given up on (a probe that timed out).
pub struct WatchedGroup<'a> {
    pid: u32,
    guard: &'a Guard,
}

impl Drop for WatchedGroup<'_> {
    fn drop(&mut self) {
        crate::process::signal_group(self.pid, nix::sys::signal::Signal::SIGKILL);
        self.guard.forget(self.pid);
    }
}
