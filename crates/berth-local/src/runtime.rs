//! The runtime a berth on this machine runs, as the engine sees it: units of
//! instances — processes, or containers on the Docker Engine — behind berth's
//! own listeners.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_core::model::{Kind, Port};
use berth_core::revision::Revision;
use berth_engine::condition::log_patterns;
use berth_engine::{BoxFuture, Desired, Failure, Runtime, Status, Traffic, Unit, UnitStatus};
use futures_util::future::join_all;
use indexmap::IndexMap;
use regex::Regex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control::{self, InstanceReport};
use crate::gateway::{self, RouteMetrics, Routes};
use crate::instances::{Instances, NewInstance};
use crate::logs::Sink;
use crate::ports::{Ports, behind_listener};
use crate::status_cell::StatusCell;
use crate::traffic::{self, Router};

/// Where a service's output goes: `(service, lines)`, one or more whole lines
/// joined by `\n`, as they arrived together.
pub type Output = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct LocalRuntime {
    state_dir: PathBuf,
    output: Output,
    instances: Arc<dyn Instances>,
    ports: Mutex<Ports>,
    router: Arc<Router>,
    units: Mutex<Vec<Arc<UnitSlot>>>,
    /// Instance numbers in use per service, across its revisions.
    indexes: Mutex<HashMap<String, BTreeSet<usize>>>,
    /// Status channels of units waited for before they are applied.
    awaited: Mutex<HashMap<Unit, watch::Sender<UnitStatus>>>,
    /// Each service's listeners, which stop with the runtime.
    listeners: Mutex<HashMap<String, Vec<AbortOnDrop>>>,
}

struct UnitSlot {
    desired: Desired,
    status: watch::Sender<UnitStatus>,
    patterns: Arc<Vec<Regex>>,
    instances: Mutex<Vec<Instance>>,
}

struct Instance {
    index: usize,
    label: String,
    ports: IndexMap<String, Port>,
    stop: watch::Sender<bool>,
    last: Arc<Mutex<VecDeque<String>>>,
    task: JoinHandle<()>,
}

/// A task that ends when its handle is dropped: listeners and the gateway.
pub(crate) struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LocalRuntime {
    /// A runtime of `instances` keeping its logs in `.berth/logs/` beside
    /// berth.yaml in `project`.
    pub fn new(
        project: &Path,
        instances: Arc<dyn Instances>,
        output: Output,
    ) -> std::io::Result<Self> {
        let state_dir = std::path::absolute(project)?.join(".berth");
        std::fs::create_dir_all(state_dir.join("logs"))?;
        Ok(LocalRuntime {
            state_dir,
            output,
            instances,
            ports: Mutex::default(),
            router: Arc::default(),
            units: Mutex::default(),
            indexes: Mutex::default(),
            awaited: Mutex::default(),
            listeners: Mutex::default(),
        })
    }

    /// Before the first unit, by the berth that holds the project's lock.
    pub async fn clear_leftovers(&self) -> Result<usize, String> {
        self.instances.clear_leftovers().await
    }

    /// After every unit is down.
    pub async fn end(&self) {
        self.instances.end().await;
    }

    fn slots(&self) -> Vec<Arc<UnitSlot>> {
        self.units.lock().expect("units lock").clone()
    }

    fn slot(&self, unit: &Unit) -> Option<Arc<UnitSlot>> {
        self.slots().into_iter().find(|s| s.desired.unit == *unit)
    }

    /// Every instance as `status` shows it.
    pub fn reports(&self) -> Vec<InstanceReport> {
        let mut slots = self.slots();
        // In the order of the newest berth.yaml, whatever the order of deploys.
        if let Some(newest) = slots.last().map(|s| s.desired.ecosystem.clone()) {
            slots.sort_by_key(|s| {
                newest
                    .services
                    .get_index_of(&s.desired.unit.service)
                    .unwrap_or(usize::MAX)
            });
        }
        slots
            .iter()
            .flat_map(|slot| {
                let status = slot.status.borrow().clone();
                let instances = slot.instances.lock().expect("instances lock");
                status
                    .instances
                    .iter()
                    .map(|s| {
                        let instance = instances.iter().find(|i| i.label == s.label);
                        InstanceReport {
                            service: slot.desired.unit.service.clone(),
                            instance: s.label.clone(),
                            revision: slot.desired.unit.revision.to_string(),
                            pid: s.pid,
                            state: s.state.to_string(),
                            ready: s.ready,
                            restarts: s.restarts,
                            port: instance.and_then(|i| i.ports.values().next()).map(|p| p.0),
                            uptime_seconds: control::uptime(s.since),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Stops every instance of `service` and starts as many again.
    pub async fn restart(&self, service: &str) -> Result<(), Failure> {
        for slot in self.of_service(service) {
            let count = slot.status.borrow().instances.len() as u32;
            self.scale(&slot, 0).await?;
            slot.status.send_modify(|u| u.instances.clear());
            self.scale(&slot, count).await?;
            // Spawning is on the spawner threads: answer once the new processes
            // are there (or could not be), as the old ones were.
            let mut status = slot.status.subscribe();
            let spawned = status.wait_for(|u| {
                u.instances
                    .iter()
                    .all(|s| s.pid.is_some() || s.started || s.is_final())
            });
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), spawned).await;
        }
        Ok(())
    }

    /// Stops every instance of `service`; `status` shows them stopped until they
    /// are restarted.
    pub async fn stop(&self, service: &str) {
        for slot in self.of_service(service) {
            self.stop_instances(&slot, 0).await;
        }
    }

    fn of_service(&self, service: &str) -> Vec<Arc<UnitSlot>> {
        self.slots()
            .into_iter()
            .filter(|s| s.desired.unit.service == service)
            .collect()
    }

    /// The ports of `service`'s listeners.
    fn ports_of(&self, service: &str) -> IndexMap<String, Port> {
        self.ports.lock().expect("ports lock").of(service)
    }

    /// The router's weights for `service`, for `status` during a rollout.
    pub fn weights(&self, service: &str) -> Vec<(Revision, u32)> {
        self.router.weights(service)
    }

    /// Serves the ecosystem's routes on `listener` until the returned task is
    /// aborted.
    pub fn gateway(
        &self,
        listener: tokio::net::TcpListener,
        routes: Routes,
        metrics: RouteMetrics,
    ) -> JoinHandle<()> {
        tokio::spawn(gateway::serve(
            listener,
            routes,
            self.router.clone(),
            Some(metrics),
        ))
    }

    /// Binds the service's ports for its listeners, once; a port another process
    /// holds is a failure that names it.
    async fn listen(&self, desired: &Desired) -> Result<(), Failure> {
        let service = &desired.unit.service;
        if self
            .listeners
            .lock()
            .expect("listeners lock")
            .contains_key(service)
        {
            return Ok(());
        }
        let spec = &desired.ecosystem.services[service];
        let service_ports = self.ports_of(service);
        let mut handles = Vec::new();
        for (i, (name, port)) in service_ports.iter().enumerate() {
            let address = listen_address(&desired.ecosystem, spec, name);
            let listener = tokio::net::TcpListener::bind((address, port.0))
                .await
                .map_err(|e| {
                    Failure::new(
                        service,
                        format!(
                            "port {port} ({name}) cannot be listened on: {e}\n  help: another process holds it; stop it, or give `{service}` another port"
                        ),
                    )
                })?;
            let http = i == 0 && speaks_http(spec, name);
            let key = router_key(service, i, name);
            handles.push(AbortOnDrop(if http {
                traffic::listen_http(listener, service, self.router.clone())
            } else {
                traffic::listen_tcp(listener, key, self.router.clone())
            }));
        }
        self.listeners
            .lock()
            .expect("listeners lock")
            .insert(service.clone(), handles);
        Ok(())
    }

    fn new_slot(&self, desired: &Desired) -> Arc<UnitSlot> {
        let mut units = self.units.lock().expect("units lock");
        if let Some(slot) = units.iter().find(|s| s.desired.unit == desired.unit) {
            return slot.clone();
        }
        let awaited = self
            .awaited
            .lock()
            .expect("awaited lock")
            .remove(&desired.unit);
        let slot = Arc::new(UnitSlot {
            desired: desired.clone(),
            status: awaited.unwrap_or_else(|| watch::channel(UnitStatus::default()).0),
            patterns: Arc::new(log_patterns(&desired.ecosystem, &desired.unit.service)),
            instances: Mutex::default(),
        });
        units.push(slot.clone());
        slot
    }

    /// Starts or stops instances of the unit until `replicas` run.
    async fn scale(&self, slot: &Arc<UnitSlot>, replicas: u32) -> Result<(), Failure> {
        let running = slot.instances.lock().expect("instances lock").len();
        let wanted = replicas as usize;
        for _ in running..wanted {
            let instance = self.start_instance(slot)?;
            slot.instances
                .lock()
                .expect("instances lock")
                .push(instance);
            self.publish(slot);
        }
        if running > wanted {
            for label in self.stop_instances(slot, wanted).await {
                slot.status
                    .send_modify(|u| u.instances.retain(|s| s.label != label));
            }
        }
        Ok(())
    }

    /// Stops the unit's instances past the first `keep`, newest first, and
    /// returns their labels; their statuses stay, as stopped.
    async fn stop_instances(&self, slot: &Arc<UnitSlot>, keep: usize) -> Vec<String> {
        let service = &slot.desired.unit.service;
        let leaving: Vec<Instance> = {
            let mut instances = slot.instances.lock().expect("instances lock");
            instances.sort_by_key(|i| i.index);
            let keep = keep.min(instances.len());
            instances.split_off(keep)
        };
        // Out of the router first, so that no new request reaches them.
        self.publish(slot);
        for instance in &leaving {
            for port in instance.ports.values() {
                self.router.upstreams.forget(port.0);
                self.router
                    .upstreams
                    .answered(port.0, std::time::Duration::from_secs(5))
                    .await;
            }
        }
        let stopped = join_all(leaving.into_iter().map(|instance| async move {
            instance.stop.send_replace(true);
            let _ = instance.task.await;
            (instance.index, instance.label)
        }))
        .await;
        let mut indexes = self.indexes.lock().expect("indexes lock");
        stopped
            .into_iter()
            .map(|(index, label)| {
                if let Some(used) = indexes.get_mut(service) {
                    used.remove(&index);
                }
                label
            })
            .collect()
    }

    fn start_instance(&self, slot: &Arc<UnitSlot>) -> Result<Instance, Failure> {
        let desired = &slot.desired;
        let service = desired.unit.service.as_str();
        let spec = &desired.ecosystem.services[service];
        let index = {
            let mut indexes = self.indexes.lock().expect("indexes lock");
            let used = indexes.entry(service.to_owned()).or_default();
            let index = (0..).find(|i| !used.contains(i)).expect("a free index");
            used.insert(index);
            index
        };
        let label = if index == 0 {
            service.to_owned()
        } else {
            format!("{service}.{index}")
        };
        // Held while the instance is worked out, which resolves peers' addresses:
        // copying every service's ports for each instance would make starting a
        // thousand instances quadratic.
        let ports = self.ports.lock().expect("ports lock");
        let instance_ports = if behind_listener(spec.kind) {
            ports
                .for_instance(service, &desired.ecosystem)
                .map_err(|e| Failure::new(service, format!("no free port: {e}")))?
        } else {
            ports.of(service)
        };
        let last: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let sink = Sink {
            service: label.clone(),
            file: self.state_dir.join("logs").join(format!("{label}.log")),
            output: self.output.clone(),
            patterns: slot.patterns.clone(),
            last: last.clone(),
            log: Arc::default(),
        };
        slot.status.send_modify(|u| {
            u.instances.retain(|s| s.label != label);
            u.instances.push(Status::new(&label, slot.patterns.len()));
        });
        let (stop, stopped) = watch::channel(false);
        let task = self.instances.start(NewInstance {
            desired,
            index,
            label: &label,
            ports: &ports,
            instance_ports: &instance_ports,
            sink,
            status: StatusCell::new(slot.status.clone(), &label),
            stop: stopped,
        });
        drop(ports);
        let task = match task {
            Ok(task) => task,
            Err(failure) => {
                slot.status
                    .send_modify(|u| u.instances.retain(|s| s.label != label));
                self.indexes
                    .lock()
                    .expect("indexes lock")
                    .entry(service.to_owned())
                    .or_default()
                    .remove(&index);
                return Err(failure);
            }
        };
        Ok(Instance {
            index,
            label,
            ports: instance_ports,
            stop,
            last,
            task,
        })
    }

    /// Tells the router which instances of the unit take traffic, per port.
    fn publish(&self, slot: &UnitSlot) {
        let desired = &slot.desired;
        let service = &desired.unit.service;
        if !behind_listener(desired.ecosystem.services[service].kind) {
            return;
        }
        let instances = slot.instances.lock().expect("instances lock");
        let names: Vec<String> = self.ports_of(service).keys().cloned().collect();
        for (i, name) in names.iter().enumerate() {
            let ports = instances
                .iter()
                .filter_map(|instance| Some((instance.label.clone(), instance.ports.get(name)?.0)))
                .collect();
            self.router.set_backends(
                &router_key(service, i, name),
                &desired.unit.revision,
                slot.status.subscribe(),
                ports,
            );
        }
    }
}

/// What the router calls a service's port: the service itself for its first.
fn router_key(service: &str, index: usize, name: &str) -> String {
    if index == 0 {
        service.to_owned()
    } else {
        format!("{service}:{name}")
    }
}

/// Whether the service's main port speaks HTTP: its probes say so, or its name.
fn speaks_http(spec: &berth_core::model::Service, name: &str) -> bool {
    let http_probe = [&spec.health.readiness, &spec.health.liveness]
        .into_iter()
        .flatten()
        .any(|probe| matches!(probe.check, berth_core::model::Check::Http { .. }));
    http_probe || name.starts_with("http") || name == "web"
}

impl Runtime for LocalRuntime {
    fn apply<'a>(
        &'a self,
        desired: &'a Desired,
        replicas: u32,
    ) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            let kind = desired.ecosystem.services[&desired.unit.service].kind;
            // Jobs and data stores run once here; they replicate only in a cluster.
            let replicas = if kind == Kind::Service {
                replicas
            } else {
                replicas.min(1)
            };
            self.ports
                .lock()
                .expect("ports lock")
                .extend(&desired.ecosystem)
                .map_err(|e| Failure::new(&desired.unit.service, format!("no free port: {e}")))?;
            if behind_listener(kind) && replicas > 0 {
                self.listen(desired).await?;
            }
            let slot = self.new_slot(desired);
            self.scale(&slot, replicas).await
        })
    }

    fn remove<'a>(&'a self, unit: &'a Unit) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(slot) = self.slot(unit) else {
                return;
            };
            let _ = self.scale(&slot, 0).await;
            self.units
                .lock()
                .expect("units lock")
                .retain(|s| s.desired.unit != *unit);
            let names: Vec<String> = self.ports_of(&unit.service).keys().cloned().collect();
            for (i, name) in names.iter().enumerate() {
                self.router
                    .remove(&router_key(&unit.service, i, name), &unit.revision);
            }
        })
    }

    fn units(&self) -> Vec<(Unit, UnitStatus)> {
        self.slots()
            .iter()
            .map(|s| (s.desired.unit.clone(), s.status.borrow().clone()))
            .collect()
    }

    /// A unit not applied yet can be waited for too: dependents wait for their
    /// dependencies before those start.
    fn watch(&self, unit: &Unit) -> Option<watch::Receiver<UnitStatus>> {
        if let Some(slot) = self.slot(unit) {
            return Some(slot.status.subscribe());
        }
        let mut awaited = self.awaited.lock().expect("awaited lock");
        let sender = awaited
            .entry(unit.clone())
            .or_insert_with(|| watch::channel(UnitStatus::default()).0);
        Some(sender.subscribe())
    }

    fn last_lines(&self, unit: &Unit) -> Vec<String> {
        let Some(slot) = self.slot(unit) else {
            return Vec::new();
        };
        let instances = slot.instances.lock().expect("instances lock");
        instances
            .iter()
            .flat_map(|i| {
                let last = i.last.lock().expect("log lock");
                last.iter().cloned().collect::<Vec<_>>()
            })
            .collect()
    }

    fn set_weights(&self, service: &str, weights: &[(Revision, u32)]) {
        self.router.set_weights(service, weights);
    }

    fn traffic(&self, service: &str, revision: &Revision) -> Option<Traffic> {
        self.router.traffic(service, revision)
    }

    fn direct_address(&self, unit: &Unit) -> Option<String> {
        let slot = self.slot(unit)?;
        let status = slot.status.borrow().clone();
        let instances = slot.instances.lock().expect("instances lock");
        instances
            .iter()
            .find(|i| {
                status
                    .instances
                    .iter()
                    .any(|s| s.label == i.label && s.ready)
            })
            .and_then(|i| i.ports.values().next())
            .map(|port| format!("127.0.0.1:{port}"))
    }

    fn service_address(&self, service: &str) -> Option<String> {
        let port = self.ports_of(service).values().next().copied()?;
        Some(format!("127.0.0.1:{port}"))
    }
}

/// Where berth listens for a port: this machine's loopback, unless a
/// container's port is published on an address of its own.
fn listen_address(
    ecosystem: &berth_core::Ecosystem,
    service: &berth_core::model::Service,
    port: &str,
) -> std::net::IpAddr {
    let loopback = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    if ecosystem.environment.runtime != berth_core::model::Runtime::Compose {
        return loopback;
    }
    service
        .publish
        .as_ref()
        .and_then(|publish| publish.get(port)?.address)
        .unwrap_or(loopback)
}
