//! A command that exits 0, run in a process group of its own: when the probe
//! times out (its future is dropped) the whole group is killed, whatever the
//! command started, and the guard kills it if berth dies meanwhile.

use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::Signal;

use crate::guard::Guard;
use crate::process;

pub async fn passes(argv: &[String], dir: &Path, guard: &Guard) -> bool {
    if argv.is_empty() {
        return false;
    }
    let mut command = process::supervised(argv, dir, None);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    let Some(pid) = child.id() else {
        return false;
    };
    let _group = Group::new(pid, guard);
    child.wait().await.is_ok_and(|status| status.success())
}

/// The probe's group, killed when the probe ends, passed, failed or timed out.
struct Group<'a> {
    pid: u32,
    guard: &'a Guard,
}

impl<'a> Group<'a> {
    fn new(pid: u32, guard: &'a Guard) -> Self {
        guard.watch(pid);
        Group { pid, guard }
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        process::signal_group(self.pid, Signal::SIGKILL);
        self.guard.forget(self.pid);
    }
}
