//! Child processes in their own process group, which die with berth.

use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Spawns `argv` in a new process group, its output piped to berth. The kernel
/// sends the child SIGKILL if berth dies, however it dies.
pub fn spawn(
    argv: &[String],
    env: &[(String, String)],
    dir: &Path,
    user: Option<(u32, u32)>,
) -> std::io::Result<Child> {
    let mut command = supervised(argv, dir, user);
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn()
}

/// `argv` as a command in a process group of its own that dies with berth; its
/// output is berth's own, unless the caller says otherwise.
pub fn supervised(argv: &[String], dir: &Path, user: Option<(u32, u32)>) -> Command {
    let (program, args) = argv.split_first().expect("a command has a program");
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are made: prctl
    // (twice) and getppid.
    unsafe {
        command.pre_exec(move || {
            // The service gets the machine's own choice of huge pages back.
            nix::sys::prctl::set_thp_disable(false)?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // berth may have died between fork and prctl: then nobody would kill us.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                std::process::exit(1);
            }
            Ok(())
        });
    }
    command
}

/// A supervisor is many threads that mostly wait; with transparent huge pages
/// its allocator's arenas grow in 2 MiB pages, and `berth up` held three times
/// the memory it uses. Called first thing by a berth that will run a while; the
/// processes it starts get the machine's default back.
pub fn without_huge_pages() {
    // Failing leaves the machine's default, which only costs memory.
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// The kernel's pipes hold 64 KiB; a service that writes fast gets 1 MiB, so
/// that it rarely waits for berth to read.
pub fn widen_pipe(pipe: &impl std::os::fd::AsFd) {
    // Failing leaves the default size, which only costs throughput.
    let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

/// Sends `signal` to every process in the group led by `pid`.
pub fn signal_group(pid: u32, signal: Signal) {
    // The group may be gone already; that is what we wanted.
    let _ = killpg(Pid::from_raw(pid as i32), signal);
}

/// Runs a `pre` or `post` command to its end: a list as its argv, a string
/// through `sh -c`; in a process group of its own that dies with berth, and
/// whatever it leaves in that group goes when it ends.
pub async fn run_command(command: &berth_core::model::Command, dir: &Path) -> Result<(), String> {
    let mut child = supervised(&command.argv(), dir, None)
        .spawn()
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    let pid = child.id();
    let status = child.wait().await;
    if let Some(pid) = pid {
        signal_group(pid, Signal::SIGKILL);
    }
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{command}` failed with {status}")),
        Err(e) => Err(format!("cannot run `{command}`: {e}")),
    }
}
