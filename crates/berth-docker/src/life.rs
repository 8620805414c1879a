//! One container instance's life, as the supervisor lives a process's: a fresh
//! container for each run, its output followed, probed by berth and by the
//! Engine's health check, restarted by the service's policy with the same
//! decisions as a process, stopped with the grace period and removed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_core::model::{Kind, Restart};
use berth_engine::{BoxFuture, State, Status};
use berth_local::{AfterExit, CommandCheck, Sink, StatusCell, Target, after_exit};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HealthStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptions, KillContainerOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, watch};

use crate::engine::{Engine, said};

/// How long a stopping container gets between SIGTERM and SIGKILL, unless it says.
const GRACE: Duration = Duration::from_secs(10);

/// A run that was ready for this long counts as a success (as for processes).
const STABLE: Duration = Duration::from_secs(1);

/// Everything one instance's life needs.
pub struct Life {
    pub engine: Engine,
    pub name: String,
    pub body: ContainerCreateBody,
    pub kind: Kind,
    pub restart: Restart,
    pub grace: Option<Duration>,
    pub readiness: Option<Target>,
    pub liveness: Option<Target>,
    pub sink: Sink,
    pub status: StatusCell,
}

/// How one run of the container ended.
enum Ended {
    Exited(i32),
    /// berth was told to stop it.
    Stopped,
    /// The Engine would not run it: a lasting failure.
    Refused(String),
}

impl Life {
    /// Runs the instance until `stop` turns true or it settles for good.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures_in_a_row = 0u32;
        let mut ever_ready = false;
        loop {
            let started = tokio::time::Instant::now();
            let ended = self.one_run(&mut stop).await;
            let ready = self.status.get().ready;
            self.status.send_modify(Status::process_gone);
            self.remove().await;
            let code = match ended {
                Ended::Stopped => {
                    self.status.send_modify(|s| s.state = State::Stopped);
                    return;
                }
                Ended::Refused(message) => {
                    self.status
                        .send_modify(|s| s.state = State::Failed(message));
                    return;
                }
                Ended::Exited(code) => code,
            };
            ever_ready |= ready;
            let stable = ready && started.elapsed() >= STABLE;
            failures_in_a_row = if stable { 1 } else { failures_in_a_row + 1 };
            let pause = match after_exit(
                self.kind,
                &self.restart,
                code,
                failures_in_a_row,
                ever_ready,
            ) {
                AfterExit::Settle(state, note) => {
                    if let Some(note) = note {
                        self.sink.note(&note);
                    }
                    // Settled first: a completed job's dependents need not wait
                    // for its container's removal.
                    self.status.send_modify(|s| s.state = state);
                    self.remove().await;
                    return;
                }
                AfterExit::Restart(pause) => pause,
            };
            self.status.send_modify(|s| {
                s.state = State::Restarting;
                s.restarts += 1;
            });
            self.sink.note(&format!(
                "berth: exited with {code}; restarting in {pause:?}"
            ));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|stop| *stop) => {
                    self.status.send_modify(|s| s.state = State::Stopped);
                    return;
                }
            }
        }
    }

    async fn one_run(&self, stop: &mut watch::Receiver<bool>) -> Ended {
        if let Err(message) = self.create_and_start().await {
            return Ended::Refused(message);
        }
        let pid = self
            .engine
            .inspect_container(&self.name, None)
            .await
            .ok()
            .and_then(|c| c.state?.pid)
            .and_then(|pid| u32::try_from(pid).ok());
        self.status.send_modify(|s| {
            s.state = State::Running;
            s.since = Some(std::time::SystemTime::now());
            s.pid = pid;
            s.started = true;
            s.ready = false;
        });
        let heard = Arc::new(Notify::new());
        let output = self.follow_output(&heard);
        let ended = tokio::select! {
            code = self.exit_code() => Ended::Exited(code),
            _ = self.until_ready_then_live(&heard) => unreachable!("probes wait forever"),
            _ = stop.wait_for(|stop| *stop) => Ended::Stopped,
        };
        if matches!(ended, Ended::Stopped) {
            let grace = self.grace.unwrap_or(GRACE);
            let options = StopContainerOptions {
                t: Some(grace.as_secs().try_into().unwrap_or(i32::MAX)),
                signal: None,
            };
            let _ = self.engine.stop_container(&self.name, Some(options)).await;
        }
        // The log stream ends with the container; what is left is written first.
        let _ = tokio::time::timeout(Duration::from_secs(2), output).await;
        ended
    }

    async fn create_and_start(&self) -> Result<(), String> {
        self.remove().await;
        let options = CreateContainerOptions {
            name: Some(self.name.clone()),
            ..CreateContainerOptions::default()
        };
        self.engine
            .create_container(Some(options), self.body.clone())
            .await
            .map_err(|e| format!("the Engine cannot create {}: {}", self.name, said(&e)))?;
        self.engine
            .start_container(&self.name, None)
            .await
            .map_err(|e| format!("the Engine cannot start {}: {}", self.name, said(&e)))
    }

    /// Waits for the container to stop and returns its exit code.
    async fn exit_code(&self) -> i32 {
        let options = WaitContainerOptions {
            condition: "not-running".to_owned(),
        };
        let mut wait = self.engine.wait_container(&self.name, Some(options));
        match wait.next().await {
            Some(Ok(response)) => response.status_code as i32,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
            _ => -1,
        }
    }

    /// Ready once berth's probe passes and the Engine's health check says
    /// healthy; then the liveness probe, which kills the container if it fails.
    async fn until_ready_then_live(&self, heard: &Notify) {
        let inside = Inside {
            engine: &self.engine,
            container: &self.name,
        };
        if let Some(target) = &self.readiness {
            berth_local::until_ready(target, &inside, heard).await;
        }
        if self.body.healthcheck.is_some() {
            self.until_healthy().await;
        }
        self.status.send_modify(|s| s.ready = true);
        if let Some(target) = &self.liveness {
            berth_local::until_failed(target, &inside).await;
            self.sink.note("berth: liveness probe failed; restarting");
            let options = KillContainerOptions {
                signal: "SIGKILL".to_owned(),
            };
            let _ = self.engine.kill_container(&self.name, Some(options)).await;
        }
        std::future::pending::<()>().await
    }

    /// Returns once the Engine says the container is healthy: told by its
    /// events as the health check passes, not found by polling later. Says once
    /// why it is unhealthy, with the check's own output.
    async fn until_healthy(&self) {
        let options = EventsOptions {
            filters: Some(HashMap::from([
                ("container".to_owned(), vec![self.name.clone()]),
                ("event".to_owned(), vec!["health_status".to_owned()]),
            ])),
            ..EventsOptions::default()
        };
        // Listening before looking, so that no change falls between the two.
        let mut events = self.engine.events(Some(options));
        let mut told = false;
        loop {
            match self.health().await {
                Some((HealthStatusEnum::HEALTHY, _)) => return,
                Some((HealthStatusEnum::UNHEALTHY, said)) if !told => {
                    told = true;
                    self.sink.note(&format!(
                        "berth: the container's health check fails: {}",
                        said.trim()
                    ));
                }
                _ => {}
            }
            // The next change, or a look in a while should the stream fail.
            let next = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
            if let Ok(None | Some(Err(_))) = next {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// The container's health, and what its last check printed.
    async fn health(&self) -> Option<(HealthStatusEnum, String)> {
        let health = self
            .engine
            .inspect_container(&self.name, None)
            .await
            .ok()?
            .state?
            .health?;
        let said = health
            .log
            .and_then(|mut log| log.pop()?.output)
            .unwrap_or_default();
        Some((health.status?, said))
    }

    /// Follows the container's output into the instance's log, until it stops.
    fn follow_output(&self, heard: &Arc<Notify>) -> tokio::task::JoinHandle<()> {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..LogsOptions::default()
        };
        let mut logs = self.engine.logs(&self.name, Some(options));
        let (mut writer, reader) = tokio::io::duplex(1 << 16);
        let sink = self.sink.clone();
        let status = self.status.clone();
        let reading = tokio::spawn(sink.follow(reader, status, heard.clone()));
        tokio::spawn(async move {
            while let Some(Ok(chunk)) = logs.next().await {
                if writer.write_all(&chunk.into_bytes()).await.is_err() {
                    break;
                }
            }
            drop(writer);
            let _ = reading.await;
        })
    }

    async fn remove(&self) {
        let options = RemoveContainerOptions {
            force: true,
            ..RemoveContainerOptions::default()
        };
        let _ = self
            .engine
            .remove_container(&self.name, Some(options))
            .await;
    }
}

/// A probe's command, run inside the container.
struct Inside<'a> {
    engine: &'a Engine,
    container: &'a str,
}

impl CommandCheck for Inside<'_> {
    fn passes<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let options = CreateExecOptions {
                cmd: Some(argv.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..CreateExecOptions::default()
            };
            let Ok(exec) = self.engine.create_exec(self.container, options).await else {
                return false;
            };
            if let Ok(StartExecResults::Attached { mut output, .. }) =
                self.engine.start_exec(&exec.id, None).await
            {
                while output.next().await.is_some() {}
            }
            self.engine
                .inspect_exec(&exec.id)
                .await
                .ok()
                .and_then(|e| e.exit_code)
                == Some(0)
        })
    }
}
