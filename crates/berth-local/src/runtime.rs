//! The local runtime as the engine sees it.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_core::Ecosystem;
use berth_core::model::Condition;
use berth_engine::{Failure, Runtime};
use regex::Regex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::guard::Guard;
use crate::launch::{self, Context};
use crate::logs::Sink;
use crate::ports::Ports;
use crate::probe::Target;
use crate::status::{State, Status};
use crate::supervisor::{self, Spec};

/// Where a service's output lines go: `(service, line)`.
pub type Output = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct LocalRuntime {
    ecosystem: Arc<Ecosystem>,
    project: PathBuf,
    state_dir: PathBuf,
    ports: Ports,
    output: Output,
    guard: Arc<Guard>,
    slots: HashMap<String, Slot>,
}

/// One service's channels, there from the start so that anything can wait for a
/// service before it is started.
struct Slot {
    status: watch::Sender<Status>,
    stop: watch::Sender<bool>,
    patterns: Arc<Vec<Regex>>,
    last: Arc<Mutex<VecDeque<String>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl LocalRuntime {
    /// A runtime for `ecosystem`, keeping its state in `.berth/` beside berth.yaml.
    pub fn new(ecosystem: Arc<Ecosystem>, project: &Path, output: Output) -> std::io::Result<Self> {
        // Absolute, because data stores change into their own directories.
        let project = std::path::absolute(project)?;
        let state_dir = project.join(".berth");
        std::fs::create_dir_all(state_dir.join("logs"))?;
        std::fs::create_dir_all(state_dir.join("data"))?;
        let ports = Ports::assign(&ecosystem)?;
        let guard = Arc::new(Guard::start()?);
        let slots = ecosystem
            .services
            .keys()
            .map(|name| {
                let patterns = log_patterns(&ecosystem, name);
                let slot = Slot {
                    status: watch::channel(Status::new(patterns.len())).0,
                    stop: watch::channel(false).0,
                    patterns: Arc::new(patterns),
                    last: Arc::default(),
                    task: Mutex::new(None),
                };
                (name.clone(), slot)
            })
            .collect();
        Ok(LocalRuntime {
            ecosystem,
            project,
            state_dir,
            ports,
            output,
            guard,
            slots,
        })
    }

    pub fn status(&self, service: &str) -> Status {
        self.slots[service].status.borrow().clone()
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    fn spec(&self, service: &str) -> Result<Spec, Failure> {
        let data = self.state_dir.join("data");
        let context = Context {
            ecosystem: &self.ecosystem,
            ports: &self.ports,
            project: &self.project,
            data: &data,
        };
        let launch = launch::launch(&context, service)
            .map_err(|e| Failure::new(service, format!("{}\n  help: {}", e.message, e.help)))?;
        for key in &launch.unset_secrets {
            (self.output)(
                service,
                &format!("berth: secret {key} is a Kubernetes Secret, left unset locally"),
            );
        }
        let spec = &self.ecosystem.services[service];
        let ports = self.ports.of(service);
        let slot = &self.slots[service];
        Ok(Spec {
            kind: spec.kind,
            restart: spec.restart.clone(),
            readiness: spec
                .health
                .readiness
                .as_ref()
                .and_then(|p| Target::new(p, ports)),
            liveness: spec
                .health
                .liveness
                .as_ref()
                .and_then(|p| Target::new(p, ports)),
            launch,
            guard: self.guard.clone(),
            sink: Sink {
                service: service.to_owned(),
                file: self.state_dir.join("logs").join(format!("{service}.log")),
                output: self.output.clone(),
                patterns: slot.patterns.clone(),
                last: slot.last.clone(),
            },
        })
    }

    fn failure(&self, service: &str, message: String) -> Failure {
        let last = self.slots[service].last.lock().expect("log lock");
        Failure {
            service: service.to_owned(),
            message,
            last_lines: last.iter().cloned().collect(),
        }
    }
}

/// The regular expressions that dependents wait to see in `service`'s output.
fn log_patterns(ecosystem: &Ecosystem, service: &str) -> Vec<Regex> {
    let mut patterns: Vec<Regex> = Vec::new();
    for dependent in ecosystem.services.values() {
        if let Some(Condition::LogLine(pattern)) = dependent.depends_on.0.get(service)
            && !patterns.iter().any(|p| p.as_str() == pattern.as_str())
        {
            patterns.push(pattern.clone());
        }
    }
    patterns
}

impl Runtime for LocalRuntime {
    async fn start(&self, service: &str) -> Result<(), Failure> {
        let spec = self.spec(service)?;
        let slot = &self.slots[service];
        let task = tokio::spawn(supervisor::supervise(
            spec,
            slot.status.clone(),
            slot.stop.subscribe(),
        ));
        *slot.task.lock().expect("task lock") = Some(task);
        Ok(())
    }

    async fn reached(&self, service: &str, condition: &Condition) -> Result<(), Failure> {
        let slot = &self.slots[service];
        let pattern = match condition {
            Condition::LogLine(regex) => slot
                .patterns
                .iter()
                .position(|p| p.as_str() == regex.as_str()),
            _ => None,
        };
        let met = |status: &Status| match condition {
            Condition::Started => status.started,
            Condition::Healthy => status.ready,
            Condition::Completed => status.state == State::Completed,
            Condition::LogLine(_) => pattern.is_some_and(|i| status.log_matched[i]),
        };
        let mut receiver = slot.status.subscribe();
        let status = receiver
            .wait_for(|status| met(status) || status.is_final())
            .await
            .map(|status| status.clone())
            .expect("the runtime keeps every status sender");
        match status.state {
            _ if met(&status) => Ok(()),
            State::Failed(why) => Err(self.failure(service, why)),
            state => Err(self.failure(service, format!("{state} before it was {condition}"))),
        }
    }

    async fn stop(&self, service: &str) {
        let slot = &self.slots[service];
        slot.stop.send_replace(true);
        let task = slot.task.lock().expect("task lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
