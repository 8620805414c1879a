//! The local runtime as the engine sees it.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_core::Ecosystem;
use berth_core::model::Condition;
use berth_engine::{Failure, Runtime};
use futures_util::future::{join_all, select_ok, try_join_all};
use regex::Regex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control::{self, InstanceReport};
use crate::gateway::{self, Backends, RouteMetrics, Routes};
use crate::guard::Guard;
use crate::launch::{self, Context};
use crate::logs::Sink;
use crate::ports::{Ports, instances_of};
use crate::probe::Target;
use crate::status::{State, Status};
use crate::supervisor::{self, Spec};

/// Where a service's output goes: `(service, lines)`, one or more whole lines
/// joined by `\n`, as they arrived together.
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
    patterns: Arc<Vec<Regex>>,
    instances: Vec<Instance>,
}

struct Instance {
    /// What output lines and log files are named: the service, or `service.N`
    /// when it runs several instances.
    label: String,
    status: watch::Sender<Status>,
    stop: watch::Sender<bool>,
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
                let count = instances_of(&ecosystem, name);
                let instances = (0..count)
                    .map(|index| Instance {
                        label: if count == 1 {
                            name.clone()
                        } else {
                            format!("{name}.{index}")
                        },
                        status: watch::channel(Status::new(patterns.len())).0,
                        stop: watch::channel(false).0,
                        last: Arc::default(),
                        task: Mutex::new(None),
                    })
                    .collect();
                let slot = Slot {
                    patterns: Arc::new(patterns),
                    instances,
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

    /// The status of each instance of `service`.
    pub fn status(&self, service: &str) -> Vec<Status> {
        self.slots[service]
            .instances
            .iter()
            .map(|instance| instance.status.borrow().clone())
            .collect()
    }

    pub fn has(&self, service: &str) -> bool {
        self.slots.contains_key(service)
    }

    /// Every instance as `status` shows it, in the ecosystem's order.
    pub fn reports(&self) -> Vec<InstanceReport> {
        self.ecosystem
            .services
            .keys()
            .flat_map(|name| {
                self.slots[name]
                    .instances
                    .iter()
                    .enumerate()
                    .map(move |(index, instance)| {
                        let status = instance.status.borrow();
                        InstanceReport {
                            service: name.clone(),
                            instance: instance.label.clone(),
                            pid: status.pid,
                            state: status.state.to_string(),
                            ready: status.ready,
                            restarts: status.restarts,
                            port: self.ports.main(name, index).map(|p| p.0),
                            uptime_seconds: control::uptime(status.since),
                        }
                    })
            })
            .collect()
    }

    /// Stops `service` and starts it afresh.
    pub async fn restart(&self, service: &str) -> Result<(), Failure> {
        self.stop(service).await;
        for instance in &self.slots[service].instances {
            instance.stop.send_replace(false);
        }
        self.start(service).await
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Serves the ecosystem's routes on `listener` until the returned task is
    /// aborted or dropped with the runtime.
    pub fn gateway(
        &self,
        listener: tokio::net::TcpListener,
        metrics: RouteMetrics,
    ) -> JoinHandle<()> {
        let instances = self
            .slots
            .iter()
            .map(|(name, slot)| {
                let ports = slot
                    .instances
                    .iter()
                    .enumerate()
                    .filter_map(|(index, instance)| {
                        let port = self.ports.main(name, index)?;
                        Some((port.0, instance.status.subscribe()))
                    })
                    .collect();
                (name.clone(), ports)
            })
            .collect();
        let routes = Routes::of(&self.ecosystem);
        tokio::spawn(gateway::serve(
            listener,
            routes,
            Backends::new(instances),
            metrics,
        ))
    }

    fn spec(&self, service: &str, index: usize) -> Result<Spec, Failure> {
        let data = self.state_dir.join("data");
        let context = Context {
            ecosystem: &self.ecosystem,
            ports: &self.ports,
            project: &self.project,
            data: &data,
        };
        let launch = launch::launch(&context, service, index)
            .map_err(|e| Failure::new(service, format!("{}\n  help: {}", e.message, e.help)))?;
        let slot = &self.slots[service];
        let instance = &slot.instances[index];
        for key in &launch.unset_secrets {
            (self.output)(
                &instance.label,
                &format!("berth: secret {key} is a Kubernetes Secret, left unset locally"),
            );
        }
        let spec = &self.ecosystem.services[service];
        let ports = self.ports.of(service, index);
        Ok(Spec {
            kind: spec.kind,
            restart: spec.restart.clone(),
            grace: spec.stop_grace_period.map(|grace| grace.0),
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
                service: instance.label.clone(),
                file: self
                    .state_dir
                    .join("logs")
                    .join(format!("{}.log", instance.label)),
                output: self.output.clone(),
                patterns: slot.patterns.clone(),
                last: instance.last.clone(),
                log: Arc::default(),
            },
        })
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
        for (index, instance) in self.slots[service].instances.iter().enumerate() {
            let spec = self.spec(service, index)?;
            let task = tokio::spawn(supervisor::supervise(
                spec,
                instance.status.clone(),
                instance.stop.subscribe(),
            ));
            *instance.task.lock().expect("task lock") = Some(task);
        }
        Ok(())
    }

    /// Reached when every instance has reached it (a log line: when any has).
    async fn reached(&self, service: &str, condition: &Condition) -> Result<(), Failure> {
        let slot = &self.slots[service];
        let met = |status: &Status| slot.meets(status, condition);
        let waits = slot.instances.iter().map(|instance| async move {
            let mut receiver = instance.status.subscribe();
            let status = receiver
                .wait_for(|status| met(status) || status.is_final())
                .await
                .map(|status| status.clone())
                .expect("the runtime keeps every status sender");
            match status.state {
                _ if met(&status) => Ok(()),
                State::Failed(why) => Err(instance.failure(service, why)),
                state => {
                    Err(instance.failure(service, format!("{state} before it was {condition}")))
                }
            }
        });
        match condition {
            Condition::LogLine(_) => select_ok(waits.map(Box::pin)).await.map(|_| ()),
            _ => try_join_all(waits).await.map(|_| ()),
        }
    }

    fn holds(&self, service: &str, condition: &Condition) -> bool {
        let slot = &self.slots[service];
        let statuses = slot
            .instances
            .iter()
            .map(|instance| instance.status.borrow().clone());
        let mut met = statuses.map(|status| slot.meets(&status, condition));
        match condition {
            Condition::LogLine(_) => met.any(|m| m),
            _ => met.all(|m| m),
        }
    }

    async fn stop(&self, service: &str) {
        join_all(
            self.slots[service]
                .instances
                .iter()
                .map(|instance| async move {
                    instance.stop.send_replace(true);
                    let task = instance.task.lock().expect("task lock").take();
                    if let Some(task) = task {
                        let _ = task.await;
                    }
                }),
        )
        .await;
    }
}

impl Slot {
    /// Whether one instance's status meets `condition`.
    fn meets(&self, status: &Status, condition: &Condition) -> bool {
        match condition {
            Condition::Started => status.started,
            Condition::Healthy => status.ready,
            Condition::Completed => status.state == State::Completed,
            Condition::LogLine(regex) => self
                .patterns
                .iter()
                .position(|p| p.as_str() == regex.as_str())
                .is_some_and(|i| status.log_matched[i]),
        }
    }
}

impl Instance {
    fn failure(&self, service: &str, message: String) -> Failure {
        let last = self.last.lock().expect("log lock");
        Failure {
            service: service.to_owned(),
            message,
            last_lines: last.iter().cloned().collect(),
        }
    }
}
