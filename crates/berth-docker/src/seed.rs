//! A store of its own beside a store in a container, on the environment's
//! network: what a replica restore copies from. The container has the store's
//! image, its berth labels (so a berth that dies mid-restore leaves nothing the
//! next one would not remove) and the backup's folder mounted read-only.

use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};

use crate::engine::{Engine, said};
use crate::labels::Owner;

/// Where the seed's backup folder is mounted in it.
pub const BACKUP_DIR: &str = "/backup";

/// The seed container of `service`, running `command` of `image`; its name,
/// which the store reaches it by on the network.
pub async fn start(
    engine: &Engine,
    owner: &Owner,
    service: &str,
    image: &str,
    backup: &Path,
    command: Vec<String>,
) -> Result<String, String> {
    let name = format!("{}-{service}-restore-seed", owner.prefix());
    remove(engine, &name).await;
    let backup = std::path::absolute(backup).map_err(|e| e.to_string())?;
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(command),
        labels: Some(owner.labels()),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{}:{BACKUP_DIR}:ro", backup.display())]),
            network_mode: Some(owner.prefix()),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..CreateContainerOptions::default()
    };
    engine
        .create_container(Some(options), body)
        .await
        .map_err(|e| format!("the Engine cannot create {name}: {}", said(&e)))?;
    if let Err(e) = engine.start_container(&name, None).await {
        remove(engine, &name).await;
        return Err(format!("the Engine cannot start {name}: {}", said(&e)));
    }
    Ok(name)
}

/// Removes the seed, whatever state it is in.
pub async fn remove(engine: &Engine, name: &str) {
    let options = RemoveContainerOptions {
        force: true,
        ..RemoveContainerOptions::default()
    };
    let _ = engine.remove_container(name, Some(options)).await;
}
