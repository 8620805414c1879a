//! A command that exits 0, run in a process group of its own: when the probe
//! times out (its future is dropped) the whole group is killed, whatever the
//! command started, and the guard kills it if berth dies meanwhile.

use std::path::Path;
use std::process::Stdio;

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
    let _group = guard.group(pid);
    child.wait().await.is_ok_and(|status| status.success())
}
