//! What an instance is: the one part of the runtime that differs between a
//! process on this machine and a container on the Docker Engine. Everything
//! around it — units, ports, listeners and their router, logs on disk, status —
//! is the runtime's, the same for both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::model::Port;
use berth_engine::{BoxFuture, Desired, Failure};
use indexmap::IndexMap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::guard::Guard;
use crate::launch::{self, Context};
use crate::logs::Sink;
use crate::ports::Ports;
use crate::probe::Target;
use crate::status_cell::StatusCell;
use crate::supervisor::{self, Spec};

/// One instance to start.
pub struct NewInstance<'a> {
    pub desired: &'a Desired,
    /// The instance's number among its service's instances, from 0.
    pub index: usize,
    /// `api`, `api.1`: how status and logs name it.
    pub label: &'a str,
    /// Every service's listener ports, where peers on this machine reach them.
    pub ports: &'a Ports,
    /// The ports of this machine where the instance takes its traffic.
    pub instance_ports: &'a IndexMap<String, Port>,
    pub sink: Sink,
    pub status: StatusCell,
    /// Turns true when the instance is to stop.
    pub stop: watch::Receiver<bool>,
}

/// How instances are run.
pub trait Instances: Send + Sync {
    /// Starts the task that runs the instance until it is told to stop or
    /// settles; the task reports through the instance's status cell.
    fn start(&self, instance: NewInstance<'_>) -> Result<JoinHandle<()>, Failure>;
    /// Before the first unit: what an earlier berth, killed, left running is
    /// cleaned up, and how many instances that was. Called only by the berth
    /// that holds the project's lock.
    fn clear_leftovers(&self) -> BoxFuture<'_, Result<usize, String>>;
    /// After every unit is down: what the instances shared goes too.
    fn end(&self) -> BoxFuture<'_, ()>;
}

/// Instances as child processes of this berth, each in its own process group.
pub struct Processes {
    project: PathBuf,
    data: PathBuf,
    guard: Arc<Guard>,
}

impl Processes {
    /// Processes started in `project`, the directory of berth.yaml, with data
    /// stores' files under `.berth/data/`. None of them — the guard, started
    /// here, included — sees the variables `secret_sources` names.
    pub fn new<'a>(
        project: &Path,
        secret_sources: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<Self> {
        crate::process::hide_from_children(secret_sources);
        // Absolute, because data stores change into their own directories.
        let project = std::path::absolute(project)?;
        let data = project.join(".berth").join("data");
        std::fs::create_dir_all(&data)?;
        Ok(Processes {
            project,
            data,
            guard: Arc::new(Guard::start()?),
        })
    }
}

impl Instances for Processes {
    fn start(&self, instance: NewInstance<'_>) -> Result<JoinHandle<()>, Failure> {
        let desired = instance.desired;
        let service = desired.unit.service.as_str();
        let spec = &desired.ecosystem.services[service];
        let context = Context {
            ecosystem: &desired.ecosystem,
            ports: instance.ports,
            instance_ports: instance.instance_ports,
            project: &self.project,
            data: &self.data,
        };
        let launch = launch::launch(&context, service, instance.index)
            .map_err(|e| Failure::new(service, format!("{}\n  help: {}", e.message, e.help)))?;
        for key in &launch.unset_secrets {
            (instance.sink.output)(
                instance.label,
                &format!("berth: secret {key} is a Kubernetes Secret, left unset locally"),
            );
        }
        let probe = |probe: &Option<berth_core::model::Probe>| {
            probe
                .as_ref()
                .and_then(|p| Target::new(p, instance.instance_ports))
        };
        let spec = Spec {
            kind: spec.kind,
            restart: spec.restart.clone(),
            grace: spec.stop_grace_period.map(|grace| grace.0),
            readiness: probe(&spec.health.readiness),
            liveness: probe(&spec.health.liveness),
            launch,
            guard: self.guard.clone(),
            sink: instance.sink,
        };
        Ok(tokio::spawn(supervisor::supervise(
            spec,
            instance.status,
            instance.stop,
        )))
    }

    fn clear_leftovers(&self) -> BoxFuture<'_, Result<usize, String>> {
        // A killed berth's processes died with it: its guard saw to that.
        Box::pin(async { Ok(0) })
    }

    /// The daemons that left their service's group and pipes go too, and the
    /// guard is told it has nothing left to search for.
    fn end(&self) -> BoxFuture<'_, ()> {
        crate::process::kill_marked(&[]);
        self.guard.dismiss();
        Box::pin(async {})
    }
}
