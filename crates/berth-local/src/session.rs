//! A session: one berth running an ecosystem on this machine, from its first
//! revision until it is told to stop. It runs the selected deployments' `pre`
//! commands, opens the gateway and the control socket, brings the plan up as the
//! environment's first recorded deployment, runs the `post` commands, answers
//! status, deploy and the rest until Ctrl-C, SIGTERM or `berth down`, and then
//! stops everything, dependents first. `berth up`, `berth run` and a detached
//! berth are this one action; the CLI only parses and presents.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;

use berth_core::Ecosystem;
use berth_core::model::Command;
use berth_core::plan::Plan;
use berth_engine::{Event, Failure, Target};
use berth_history::FileLock;
use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::control::{self, Progress};
use crate::deployer::Deployer;
use crate::gateway::{RouteMetrics, Routes};
use crate::instances::Instances;
use crate::process;
use crate::runtime::{AbortOnDrop, LocalRuntime, Output};

/// What a session tells whoever presents it.
pub enum Notice<'a> {
    /// A step of bringing the plan up or down.
    Event(&'a Event),
    /// One of berth's own lines: what it is doing.
    Line(String),
    /// Something went wrong that ends the session.
    Error(String),
    /// The plan could not be brought up, and why.
    Failed(&'a Failure),
}

/// What a running berth writes about itself in `.berth/berth.json`, so that
/// others can tell whether it is still there or died without cleaning up.
#[derive(Serialize, Deserialize)]
pub struct State {
    pub pid: u32,
    pub environment: String,
}

/// Where a session keeps its socket and state file: `.berth/` beside berth.yaml.
pub struct StateDir(pub PathBuf);

impl StateDir {
    pub fn of(project: &Path) -> StateDir {
        StateDir(project.join(".berth"))
    }

    pub fn socket(&self) -> PathBuf {
        self.0.join("berth.sock")
    }

    pub fn state_file(&self) -> PathBuf {
        self.0.join("berth.json")
    }

    /// The file a running berth holds locked for its whole life: the one sure sign
    /// that it runs, since the kernel lets go of it however the berth ends.
    fn lock(&self) -> PathBuf {
        self.0.join("berth.lock")
    }

    /// The pid of the berth that runs here, if one does.
    pub fn running(&self) -> Option<u32> {
        FileLock::holder(&self.lock()).and_then(|holder| holder.parse().ok())
    }

    /// What a berth that ended without stopping left: its state file, and its
    /// socket, whatever is now in the socket's place. Only the lock's holder calls it.
    fn clear_leftovers(&self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(self.state_file());
        let socket = self.socket();
        match std::fs::symlink_metadata(&socket) {
            Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(&socket),
            Ok(_) => std::fs::remove_file(&socket),
            Err(_) => Ok(()),
        }
    }

    /// The recorded berth, if any.
    pub fn recorded(&self) -> Option<State> {
        let text = std::fs::read_to_string(self.state_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records this berth, atomically: a reader sees the old file or the new one.
    fn record(&self, state: &State) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.0)?;
        let temporary = self.0.join("berth.json.tmp");
        std::fs::write(
            &temporary,
            serde_json::to_vec(state).expect("state serializes"),
        )?;
        std::fs::rename(temporary, self.state_file())
    }

    fn forget(&self) {
        let _ = std::fs::remove_file(self.state_file());
        let _ = std::fs::remove_file(self.socket());
    }

    /// Clears what a berth that ended without stopping left, unless a berth runs
    /// here (then it is that berth's to clear).
    pub fn clear_if_unused(&self) {
        if let Ok(Ok(_lock)) = FileLock::try_take(&self.lock(), &std::process::id().to_string()) {
            let _ = self.clear_leftovers();
        }
    }
}

/// The session's ecosystem, where its berth.yaml is, and what it brings up.
pub struct Session<'a> {
    /// berth.yaml, read again by every deployment.
    pub file: &'a Path,
    pub ecosystem: &'a Ecosystem,
    pub plan: &'a Plan,
    /// Where services' output goes.
    pub output: Output,
    /// In the background, the file for this berth's own output: opened only once
    /// it holds the project's lock, so that a berth that cannot start never
    /// truncates the log of the one that runs.
    pub log: Option<&'a Path>,
    pub notice: &'a (dyn Fn(Notice) + Sync),
    /// How instances run: processes here, or containers.
    pub instances: Arc<dyn Instances>,
}

impl Session<'_> {
    fn say(&self, line: impl Into<String>) {
        (self.notice)(Notice::Line(line.into()));
    }

    fn error(&self, line: impl Into<String>) {
        (self.notice)(Notice::Error(line.into()));
    }

    /// Runs the session to its end; false when it could not bring the plan up.
    pub async fn run(&self) -> bool {
        let project = self.file.parent().unwrap_or(Path::new("."));
        let state_dir = StateDir::of(project);
        let Some(_lock) = self.take_lock(&state_dir) else {
            return false;
        };
        process::hide_from_children(self.ecosystem.secret_sources());
        let runtime = match LocalRuntime::new(project, self.instances.clone(), self.output.clone())
        {
            Ok(runtime) => Arc::new(runtime),
            Err(e) => {
                self.error(format!("cannot prepare .berth/ beside berth.yaml: {e}"));
                return false;
            }
        };
        let deployer = match Deployer::new(runtime, self.file, &self.ecosystem.environment_name) {
            Ok(deployer) => Arc::new(deployer),
            Err(e) => {
                self.error(e);
                return false;
            }
        };
        let state = State {
            pid: std::process::id(),
            environment: self.ecosystem.environment_name.clone(),
        };
        if let Err(e) = state_dir.record(&state) {
            self.error(format!("cannot write to {}: {e}", state_dir.0.display()));
            return false;
        }
        match deployer.runtime.clear_leftovers().await {
            Ok(0) => {}
            Ok(count) => self.say(format!(
                "berth: removed {count} instance{} an earlier berth left running",
                if count == 1 { "" } else { "s" }
            )),
            Err(e) => {
                self.error(e);
                state_dir.forget();
                return false;
            }
        }
        let up = self.run_until_stopped(project, &state_dir, &deployer).await;
        state_dir.forget();
        up
    }

    async fn run_until_stopped(
        &self,
        project: &Path,
        state_dir: &StateDir,
        deployer: &Arc<Deployer>,
    ) -> bool {
        for command in &self.plan.pre {
            if let Err(e) = self.run_command(command, project).await {
                self.error(e);
                return false;
            }
        }
        let _gateway = match self.gateway(&deployer.runtime).await {
            Ok(gateway) => gateway,
            Err(message) => {
                self.error(message);
                return false;
            }
        };
        let (progress_sender, progress) = watch::channel(Progress::Starting);
        let socket = state_dir.socket();
        let mut control = pin!(async {
            if let Err(e) = control::serve(&socket, deployer.clone(), progress).await {
                self.say(format!(
                    "berth: no control socket ({e}); `berth status` and `berth down` cannot reach this berth"
                ));
                std::future::pending::<()>().await;
            }
        });
        let show = |event: Event| (self.notice)(Notice::Event(&event));
        let target = Target::of(Arc::new(self.ecosystem.clone()));
        let started = tokio::select! {
            result = deployer.up(&target, self.plan, &show) => Some(result),
            _ = interrupted() => None,
            _ = &mut control => None,
        };
        let up = match started {
            Some(Ok(())) => {
                for command in &self.plan.post {
                    if let Err(e) = self.run_command(command, project).await {
                        self.error(e);
                    }
                }
                progress_sender.send_replace(Progress::Up);
                let count = self.plan.services().count();
                self.say(format!(
                    "berth: {count} service{} up; Ctrl-C stops them",
                    if count == 1 { "" } else { "s" }
                ));
                tokio::select! {
                    _ = interrupted() => {}
                    _ = &mut control => {}
                }
                true
            }
            Some(Err(failure)) => {
                progress_sender.send_replace(Progress::Failed(failure.to_string()));
                (self.notice)(Notice::Failed(&failure));
                false
            }
            None => true,
        };
        progress_sender.send_replace(Progress::Stopping);
        self.say("berth: stopping");
        let services: IndexSet<&str> = self.ecosystem.services.keys().map(String::as_str).collect();
        berth_engine::down(&target, &services, deployer.runtime.as_ref(), &show).await;
        deployer.runtime.end().await;
        up
    }

    /// The project's lock, then this berth's log and a clean `.berth/`; nothing of
    /// another berth is touched before the lock is held.
    fn take_lock(&self, state_dir: &StateDir) -> Option<FileLock> {
        let path = state_dir.lock();
        let lock = match FileLock::try_take(&path, &std::process::id().to_string()) {
            Ok(Ok(lock)) => lock,
            Ok(Err(holder)) => {
                self.error(format!(
                    "berth is already running here (pid {holder})\n  help: apply changes with `berth up -d` or `berth deploy`, see it with `berth status`, or stop it with `berth down`"
                ));
                return None;
            }
            Err(e) => {
                self.error(format!("cannot lock {}: {e}", path.display()));
                return None;
            }
        };
        if let Some(log) = self.log
            && let Err(e) = write_output_to(log)
        {
            self.error(format!("cannot write {}: {e}", log.display()));
            return None;
        }
        if let Err(e) = state_dir.clear_leftovers() {
            self.error(format!("cannot clear {}: {e}", state_dir.0.display()));
            return None;
        }
        Some(lock)
    }

    /// Starts the gateway when any service has routes; it stops when dropped.
    async fn gateway(&self, runtime: &LocalRuntime) -> Result<Option<AbortOnDrop>, String> {
        let ecosystem = self.ecosystem;
        let planned: IndexSet<&str> = self
            .plan
            .services()
            .map(|step| step.service.as_str())
            .collect();
        let routes = Routes::of(ecosystem, |service| planned.contains(service));
        // A Prometheus scrapes the router's counts from the gateway.
        if routes.is_empty() && ecosystem.environment.prometheus.is_none() {
            return Ok(None);
        }
        let port = ecosystem.environment.gateway.port;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.0))
            .await
            .map_err(|e| {
                format!(
                    "the gateway cannot listen on port {port}: {e}\n  help: set `gateway: {{ port: PORT }}` on environment `{}`",
                    ecosystem.environment_name
                )
            })?;
        self.say(if routes.is_empty() {
            format!("berth: metrics for Prometheus on http://127.0.0.1:{port}/_berth/metrics")
        } else {
            format!(
                "berth: gateway on http://127.0.0.1:{port} ({})",
                routes.describe()
            )
        });
        Ok(Some(AbortOnDrop(runtime.gateway(
            listener,
            routes,
            RouteMetrics::default(),
        ))))
    }

    async fn run_command(&self, command: &Command, project: &Path) -> Result<(), String> {
        self.say(format!("berth: running {command}"));
        process::run_command(command, project).await
    }
}

/// Sends this process's stdout and stderr to `log`, made anew.
fn write_output_to(log: &Path) -> std::io::Result<()> {
    let file = crate::private_file::open(log, true)?;
    nix::unistd::dup2_stdout(&file)?;
    nix::unistd::dup2_stderr(&file)?;
    Ok(())
}

/// Ctrl-C, or SIGTERM from whoever runs berth.
async fn interrupted() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM can be watched");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
