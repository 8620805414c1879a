//! Child processes in their own process group, which die with berth: the guard
//! kills every group berth started when berth ends, however it ends.
//!
//! No code runs between fork and exec, so std spawns with posix_spawn, which
//! copies nothing of berth's memory; a parent-death signal would need such code,
//! and would fire when the *thread* that spawned ends, not berth.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Spawns `argv` in a new process group, its output piped to berth.
///
/// Spawning waits for the child to reach exec, which on a busy machine can take
/// milliseconds while it waits for a core: that wait is on one of a few spawner
/// threads, so that the supervisor goes on with everything else.
pub async fn spawn(
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
    let (reply, spawned) = tokio::sync::oneshot::channel();
    let spawners = spawners();
    let turn = NEXT_SPAWNER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    spawners[turn % spawners.len()]
        .send(Spawn { command, reply })
        .map_err(|_| std::io::Error::other("the spawner threads are gone"))?;
    spawned
        .await
        .map_err(|_| std::io::Error::other("a spawner thread ended"))?
}

/// A command for a spawner thread, and where its child goes.
struct Spawn {
    command: Command,
    reply: tokio::sync::oneshot::Sender<std::io::Result<Child>>,
}

static NEXT_SPAWNER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Two threads that spawn for the whole runtime, however many instances run.
fn spawners() -> &'static [std::sync::mpsc::Sender<Spawn>] {
    static SPAWNERS: std::sync::OnceLock<Vec<std::sync::mpsc::Sender<Spawn>>> =
        std::sync::OnceLock::new();
    SPAWNERS.get_or_init(|| {
        // The children are the runtime's: it reaps them and reads their pipes.
        let runtime = tokio::runtime::Handle::current();
        (0..2)
            .map(|i| {
                let (sender, spawns) = std::sync::mpsc::channel::<Spawn>();
                let runtime = runtime.clone();
                std::thread::Builder::new()
                    .name(format!("berth-spawn-{i}"))
                    .spawn(move || {
                        let _inside = runtime.enter();
                        for mut spawn in spawns {
                            let _ = spawn.reply.send(spawn.command.spawn());
                        }
                    })
                    .expect("a spawner thread starts");
                sender
            })
            .collect()
    })
}

/// The variables that secrets come from (`{ env: VAR }`). No child inherits
/// them: a service gets a secret only under the name it declares it by.
static SECRET_SOURCES: std::sync::RwLock<BTreeSet<String>> =
    std::sync::RwLock::new(BTreeSet::new());

/// Keeps these variables from every process started from now on.
pub fn hide_from_children<'a>(sources: impl IntoIterator<Item = &'a str>) {
    let mut hidden = SECRET_SOURCES.write().expect("secret sources lock");
    hidden.extend(sources.into_iter().map(str::to_owned));
}

/// `command` without the variables that secrets come from.
pub fn without_secret_sources(command: &mut std::process::Command) {
    for source in SECRET_SOURCES.read().expect("secret sources lock").iter() {
        command.env_remove(source);
    }
}

/// The mark every process this berth starts carries in `BERTH_SESSION`, and
/// hands down to its own: how berth finds what a service left behind, even a
/// daemon that left its process group with `setsid`.
pub fn session_mark() -> &'static str {
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{}-{nanos}", std::process::id())
    })
}

/// Kills every process that carries this berth's mark and each of `also`
/// (`NAME=VALUE`) in its environment.
pub fn kill_marked(also: &[String]) {
    let mark = format!("BERTH_SESSION={}", session_mark());
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let has = |wanted: &str| environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes());
        if pid != own && has(&mark) && also.iter().all(|v| has(v)) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// PATH with this berth's own folder first, when it is not on PATH already: a
/// `run:` string that calls `berth` finds the berth that runs it.
fn path_with_berth() -> Option<&'static std::ffi::OsStr> {
    static PATH: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let folder = std::env::current_exe().ok()?.parent()?.to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        if std::env::split_paths(&path).any(|dir| dir == folder) {
            return None;
        }
        std::env::join_paths(std::iter::once(folder).chain(std::env::split_paths(&path))).ok()
    })
    .as_deref()
}

/// `argv` as a command in a process group of its own; its output is berth's
/// own, unless the caller says otherwise.
pub fn supervised(argv: &[String], dir: &Path, user: Option<(u32, u32)>) -> Command {
    let (program, args) = argv.split_first().expect("a command has a program");
    let mut command = Command::new(program);
    without_secret_sources(command.as_std_mut());
    if let Some(path) = path_with_berth() {
        command.env("PATH", path);
    }
    command
        .env("BERTH_SESSION", session_mark())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

/// With transparent huge pages a supervisor's allocator arenas grow in 2 MiB
/// pages, and `berth up` held three times the memory it uses. Called first thing
/// by a berth that will run a while. The setting is inherited across exec, so the
/// processes it starts run without huge pages too (which Redis, for one, asks for).
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
