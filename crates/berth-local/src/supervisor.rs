//! One service's life: start it, probe it, restart it by its policy, stop it.

use std::process::ExitStatus;
use std::time::Duration;

use berth_core::model::{Kind, Restart};
use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::{Notify, watch};

use std::sync::Arc;

use crate::guard::Guard;
use crate::launch::Launch;
use crate::logs::Sink;
use crate::policy::{AfterExit, after_exit, backoff};
use crate::probe::{self, Target};
use crate::process;
use crate::status_cell::StatusCell;
use berth_engine::{State, Status};

/// How long a stopping service gets between SIGTERM and SIGKILL, unless it says.
const GRACE: Duration = Duration::from_secs(10);

/// A run that was ready for this long counts as a success: the next failure
/// starts the backoff afresh (supervisord's `startsecs`).
const STABLE: Duration = Duration::from_secs(1);

pub struct Spec {
    pub kind: Kind,
    pub restart: Restart,
    pub grace: Option<Duration>,
    pub launch: Launch,
    pub readiness: Option<Target>,
    pub liveness: Option<Target>,
    pub sink: Sink,
    pub guard: Arc<Guard>,
}

impl Spec {
    /// What every process of this instance carries in its environment; none
    /// for a process launched without them.
    fn marks(&self) -> Vec<String> {
        let marks: Vec<String> = self
            .launch
            .env
            .iter()
            .filter(|(key, _)| key == "BERTH_SERVICE" || key == "BERTH_INSTANCE")
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        if marks.len() == 2 { marks } else { Vec::new() }
    }
}

/// Runs the service until it is told to stop (`stop` turns true) or settles for good.
pub async fn supervise(spec: Spec, status: StatusCell, mut stop: watch::Receiver<bool>) {
    if let Some(prepare) = &spec.launch.prepare
        && let Err(message) = run_to_end(prepare, &spec).await
    {
        status.send_modify(|s| s.state = State::Failed(message));
        return;
    }
    let mut failures_in_a_row = 0u32;
    let mut ever_ready = false;
    loop {
        let mut child = match process::spawn(
            &spec.launch.argv,
            &spec.launch.env,
            &spec.launch.dir,
            spec.launch.user,
        )
        .await
        {
            Ok(child) => child,
            Err(e) if is_lasting(&e) => {
                let message = format!("cannot run `{}`: {e}", spec.launch.argv[0]);
                status.send_modify(|s| s.state = State::Failed(message));
                return;
            }
            Err(e) => {
                // Out of descriptors or processes for a moment: try again later.
                failures_in_a_row += 1;
                let pause = backoff(&spec.restart, failures_in_a_row);
                let note = format!("berth: cannot start it ({e}); trying again in {pause:?}");
                spec.sink.note(&note);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => continue,
                    _ = stop.wait_for(|stop| *stop) => {
                        status.send_modify(|s| s.state = State::Stopped);
                        return;
                    }
                }
            }
        };
        let pid = child.id().expect("a running child has a pid");
        let run_started = tokio::time::Instant::now();
        spec.guard.watch(pid);
        status.send_modify(|s| {
            s.state = State::Running;
            s.since = Some(std::time::SystemTime::now());
            s.pid = Some(pid);
            s.started = true;
            s.ready = false;
        });
        let heard = Arc::new(Notify::new());
        let readers = follow_output(&mut child, &spec.sink, &status, &heard);
        let ended = tokio::select! {
            exit = watch_one_run(&mut child, pid, &spec, &status, &heard) => Some(exit),
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let Some(exit) = ended else {
            terminate(&mut child, pid, spec.grace.unwrap_or(GRACE)).await;
            spec.guard.forget(pid);
            status.send_modify(|s| {
                s.process_gone();
                s.state = State::Stopped;
            });
            readers.finish(&spec.marks()).await;
            return;
        };
        // Whatever it left behind in its group goes with it.
        process::signal_group(pid, Signal::SIGKILL);
        spec.guard.forget(pid);
        let ready = status.get().ready;
        ever_ready |= ready;
        let stable = ready && run_started.elapsed() >= STABLE;
        status.send_modify(Status::process_gone);
        readers.finish(&spec.marks()).await;
        failures_in_a_row = if stable { 1 } else { failures_in_a_row + 1 };
        let code = exit.code().unwrap_or(-1);
        let pause = match after_exit(
            spec.kind,
            &spec.restart,
            code,
            failures_in_a_row,
            ever_ready,
        ) {
            AfterExit::Settle(state, note) => {
                if let Some(note) = note {
                    spec.sink.note(&note);
                }
                status.send_modify(|s| s.state = state);
                return;
            }
            AfterExit::Restart(pause) => pause,
        };
        status.send_modify(|s| {
            s.state = State::Restarting;
            s.restarts += 1;
        });
        let note = format!("berth: exited with {code}; restarting in {pause:?}");
        spec.sink.note(&note);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|stop| *stop) => {
                status.send_modify(|s| s.state = State::Stopped);
                return;
            }
        }
    }
}

/// Whether a failed spawn will fail again however long berth waits: no such
/// program, or not allowed to run it.
fn is_lasting(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    ) || error.raw_os_error() == Some(nix::libc::ENOEXEC)
}

/// Probes one run of the process until it exits; a failed liveness probe kills it.
async fn watch_one_run(
    child: &mut Child,
    pid: u32,
    spec: &Spec,
    status: &StatusCell,
    heard: &Notify,
) -> ExitStatus {
    let commands = probe::Beside {
        dir: &spec.launch.dir,
        guard: &spec.guard,
    };
    let readiness = async {
        if let Some(target) = &spec.readiness {
            probe::until_ready(target, &commands, heard).await;
        }
        status.send_modify(|s| s.ready = true);
        std::future::pending::<()>().await
    };
    let liveness = async {
        if let Some(target) = &spec.liveness {
            probe::until_failed(target, &commands).await;
            spec.sink.note("berth: liveness probe failed; restarting");
            process::signal_group(pid, Signal::SIGKILL);
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        exit = child.wait() => exit.unwrap_or_else(|_| ExitStatus::default()),
        _ = readiness => unreachable!("readiness waits forever once ready"),
        _ = liveness => unreachable!("liveness waits forever once it fired"),
    }
}

/// SIGTERM to the group, `grace` to exit, then SIGKILL.
async fn terminate(child: &mut Child, pid: u32, grace: Duration) {
    process::signal_group(pid, Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        process::signal_group(pid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    process::signal_group(pid, Signal::SIGKILL);
}

fn follow_output(
    child: &mut Child,
    sink: &Sink,
    status: &StatusCell,
    heard: &Arc<Notify>,
) -> Readers {
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    process::widen_pipe(&stdout);
    process::widen_pipe(&stderr);
    let out = sink.clone().follow(stdout, status.clone(), heard.clone());
    let err = sink.clone().follow(stderr, status.clone(), heard.clone());
    Readers(Some(tokio::spawn(async move {
        futures_util::future::join(out, err).await;
    })))
}

/// The task that reads a process's output until its pipes close.
struct Readers(Option<tokio::task::JoinHandle<()>>);

impl Readers {
    /// Waits for the last of the output. A process that exited may have left
    /// something holding its pipes — a daemon child, outside its group — and
    /// that is killed, found by the marks (`NAME=VALUE`) it inherited.
    async fn finish(mut self, marks: &[String]) {
        if self.within(Duration::from_millis(50)).await || marks.is_empty() {
            return;
        }
        process::kill_marked(marks);
        if !self.within(Duration::from_millis(500)).await
            && let Some(task) = self.0.take()
        {
            task.abort();
        }
    }

    async fn within(&mut self, limit: Duration) -> bool {
        let Some(task) = &mut self.0 else {
            return true;
        };
        let done = tokio::time::timeout(limit, task).await.is_ok();
        if done {
            self.0 = None;
        }
        done
    }
}

/// Runs a preparation command (such as initdb) to its end, its output logged.
async fn run_to_end(argv: &[String], spec: &Spec) -> Result<(), String> {
    let mut child = process::spawn(argv, &spec.launch.env, &spec.launch.dir, spec.launch.user)
        .await
        .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))?;
    let pid = child.id().expect("a running child has a pid");
    let group = spec.guard.group(pid);
    let status = StatusCell::detached(&spec.sink.service);
    let readers = follow_output(&mut child, &spec.sink, &status, &Arc::default());
    let exit = child.wait().await.map_err(|e| e.to_string())?;
    // Whatever it left behind in its group goes with it.
    drop(group);
    readers.finish(&spec.marks()).await;
    if exit.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed with {exit}", argv.join(" ")))
    }
}
