//! The Docker Engine as the runtime's [`Instances`]: one container per instance,
//! on one network per environment, data stores on named volumes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_engine::{BoxFuture, Failure, State};
use berth_local::{Instances, NewInstance, Target};
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::container::{self, Definition};
use crate::engine::{Engine, said};
use crate::image::Images;
use crate::labels::Owner;
use crate::life::Life;

/// Containers of one environment of one ecosystem.
#[derive(Clone)]
pub struct Containers(Arc<Shared>);

struct Shared {
    engine: Engine,
    owner: Owner,
    project: PathBuf,
    images: Images,
    /// The environment's network, made by the first instance that needs it.
    network: OnceCell<String>,
}

impl Containers {
    /// Containers for `owner`, with builds and files relative to `project`, the
    /// directory of berth.yaml.
    pub fn new(engine: Engine, owner: Owner, project: &Path) -> Containers {
        Containers(Arc::new(Shared {
            engine,
            owner,
            project: project.to_path_buf(),
            images: Images::new(project),
            network: OnceCell::new(),
        }))
    }

    /// The names of the environment's containers, running or not.
    pub async fn names(&self) -> Result<Vec<String>, String> {
        let found = self.list().await?;
        Ok(found
            .into_iter()
            .flat_map(|summary| summary.names.unwrap_or_default())
            .map(|name| name.trim_start_matches('/').to_owned())
            .collect())
    }

    async fn list(&self) -> Result<Vec<bollard::models::ContainerSummary>, String> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(self.0.owner.filter()),
            ..ListContainersOptions::default()
        };
        self.0
            .engine
            .list_containers(Some(options))
            .await
            .map_err(|e| format!("cannot list containers: {}", said(&e)))
    }

    /// Removes every container of the environment, running or not; how many.
    pub async fn remove_containers(&self) -> Result<usize, String> {
        let engine = &self.0.engine;
        let found = self.list().await?;
        for summary in &found {
            let Some(id) = &summary.id else { continue };
            let options = RemoveContainerOptions {
                force: true,
                ..RemoveContainerOptions::default()
            };
            engine
                .remove_container(id, Some(options))
                .await
                .map_err(|e| format!("cannot remove container {id}: {}", said(&e)))?;
        }
        Ok(found.len())
    }

    /// Removes the environment's networks; containers must be gone first.
    pub async fn remove_networks(&self) -> Result<(), String> {
        let engine = &self.0.engine;
        let options = ListNetworksOptions {
            filters: Some(self.0.owner.filter()),
        };
        let networks = engine
            .list_networks(Some(options))
            .await
            .map_err(|e| format!("cannot list networks: {}", said(&e)))?;
        for network in networks {
            let Some(id) = network.id else { continue };
            engine
                .remove_network(&id)
                .await
                .map_err(|e| format!("cannot remove network {id}: {}", said(&e)))?;
        }
        Ok(())
    }

    /// Removes the data stores' volumes, and with them their data; their names.
    pub async fn remove_volumes(&self) -> Result<Vec<String>, String> {
        let engine = &self.0.engine;
        let options = ListVolumesOptions {
            filters: Some(self.0.owner.volume_filter()),
        };
        let volumes = engine
            .list_volumes(Some(options))
            .await
            .map_err(|e| format!("cannot list volumes: {}", said(&e)))?
            .volumes
            .unwrap_or_default();
        let mut removed = Vec::new();
        for volume in volumes {
            engine
                .remove_volume(
                    &volume.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
                .map_err(|e| format!("cannot remove volume {}: {}", volume.name, said(&e)))?;
            removed.push(volume.name);
        }
        Ok(removed)
    }
}

impl Shared {
    async fn network(&self) -> Result<&str, String> {
        let name = self
            .network
            .get_or_try_init(|| async {
                let name = self.owner.prefix();
                let request = NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("bridge".to_owned()),
                    labels: Some(self.owner.labels()),
                    ..NetworkCreateRequest::default()
                };
                // One made by an earlier berth of this environment is used as it is.
                if self.engine.inspect_network(&name, None).await.is_err() {
                    self.engine
                        .create_network(request)
                        .await
                        .map_err(|e| format!("cannot create network {name}: {}", said(&e)))?;
                }
                Ok::<_, String>(name)
            })
            .await?;
        Ok(name)
    }

    async fn volume(&self, name: &str) -> Result<(), String> {
        let name = container::volume(&self.owner, name);
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(self.owner.labels()),
            ..VolumeCreateRequest::default()
        };
        // Creating a volume that exists hands back the one there is.
        self.engine
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot create volume {name}: {}", said(&e)))
    }
}

impl Instances for Containers {
    fn start(&self, instance: NewInstance<'_>) -> Result<JoinHandle<()>, Failure> {
        let desired = instance.desired.clone();
        let shared = self.0.clone();
        let label = instance.label.to_owned();
        let published = instance.instance_ports.clone();
        let sink = instance.sink;
        let status = instance.status;
        let stop = instance.stop;
        Ok(tokio::spawn(async move {
            let service = desired.unit.service.as_str();
            let spec = &desired.ecosystem.services[service];
            let note = |line: &str| sink.note(line);
            let prepared = async {
                let network = shared.network().await?;
                for (name, _) in container::named_volumes(service, spec) {
                    shared.volume(&name).await?;
                }
                let prefix = format!("berth-{}", shared.owner.ecosystem);
                let image = shared
                    .images
                    .ensure(&shared.engine, &prefix, service, spec, &note)
                    .await?;
                let revision = desired.unit.revision.to_string();
                let (body, notes) = container::definition(&Definition {
                    owner: &shared.owner,
                    ecosystem: &desired.ecosystem,
                    service,
                    label: &label,
                    revision: &revision,
                    image: &image,
                    published: &published,
                    network,
                    project: &shared.project,
                })?;
                for line in notes {
                    note(&line);
                }
                Ok::<_, String>(body)
            };
            let body = match prepared.await {
                Ok(body) => body,
                Err(message) => {
                    status.send_modify(|s| s.state = State::Failed(message));
                    return;
                }
            };
            let probe = |probe: &Option<berth_core::model::Probe>| {
                probe.as_ref().and_then(|p| Target::new(p, &published))
            };
            let life = Life {
                engine: shared.engine.clone(),
                name: container::name(&shared.owner, &label, desired.unit.revision.as_str()),
                body,
                kind: spec.kind,
                restart: spec.restart.clone(),
                grace: spec.stop_grace_period.map(|grace| grace.0),
                readiness: probe(&spec.health.readiness),
                liveness: probe(&spec.health.liveness),
                sink: sink.clone(),
                status,
            };
            life.run(stop).await;
        }))
    }

    fn clear_leftovers(&self) -> BoxFuture<'_, Result<usize, String>> {
        Box::pin(self.remove_containers())
    }

    fn end(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {
            let _ = self.remove_networks().await;
        })
    }
}
