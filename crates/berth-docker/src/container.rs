//! One instance as the Engine creates it: the image, argv, environment, health
//! check, ports, volume, network and limits — taken from the same pieces
//! `berth render --to compose` writes, so that the two run the same thing.

use std::collections::HashMap;
use std::path::Path;

use berth_core::Ecosystem;
use berth_core::address;
use berth_core::model::{Command, MountSource, Port, SecretRef, Service};
use berth_render::compose::{self, ComposeNetwork};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
};
use indexmap::IndexMap;

use crate::labels::{self, Owner};

/// What one container is to be.
pub struct Definition<'a> {
    pub owner: &'a Owner,
    pub ecosystem: &'a Ecosystem,
    pub service: &'a str,
    pub label: &'a str,
    pub revision: &'a str,
    pub image: &'a str,
    /// Where on this machine's loopback each of the service's ports is published.
    pub published: &'a IndexMap<String, Port>,
    pub network: &'a str,
    /// The directory of berth.yaml, which env files and secret files are relative to.
    pub project: &'a Path,
}

/// The container's name: its instance and revision within the environment, so
/// that two revisions of one service run side by side during a rollout.
pub fn name(owner: &Owner, label: &str, revision: &str) -> String {
    format!("{}-{label}-{revision}", owner.prefix())
}

/// The named volumes a service mounts, as berth.yaml names them: those of
/// `volumes:`, and a data store's own (`SERVICE-data`) unless one of them is
/// at its data folder. Each outlives the containers.
pub fn named_volumes(service_name: &str, service: &Service) -> Vec<(String, String)> {
    let mut named: Vec<(String, String)> = service
        .volumes
        .iter()
        .filter_map(|mount| match &mount.source {
            Some(MountSource::Volume(name)) => Some((name.clone(), mount.target.clone())),
            _ => None,
        })
        .collect();
    if let Some(store) = service.kind.data_store()
        && !service.volumes.iter().any(|m| m.target == store.data_dir)
    {
        named.push((format!("{service_name}-data"), store.data_dir.to_owned()));
    }
    named
}

/// The Engine's name of a named volume of the environment.
pub fn volume(owner: &Owner, name: &str) -> String {
    format!("{}-{name}", owner.prefix())
}

/// The mounts of `volumes:` that are no named volume: folders of the project,
/// bound by their absolute path, and volumes of a container's own.
fn other_mounts(service: &Service, project: &Path) -> (Vec<String>, Vec<String>) {
    let mut binds = Vec::new();
    let mut anonymous = Vec::new();
    for mount in &service.volumes {
        let mode = if mount.read_only { ":ro" } else { "" };
        match &mount.source {
            Some(MountSource::Path(path)) => {
                let path = path.strip_prefix("~/").map_or_else(
                    || project.join(path),
                    |rest| std::env::home_dir().unwrap_or_default().join(rest),
                );
                binds.push(format!("{}:{}{mode}", path.display(), mount.target));
            }
            Some(MountSource::Volume(_)) => {}
            None => anonymous.push(mount.target.clone()),
        }
    }
    (binds, anonymous)
}

/// The container's definition, and the notes to show about what it leaves out.
pub fn definition(definition: &Definition) -> Result<(ContainerCreateBody, Vec<String>), String> {
    let Definition {
        owner,
        ecosystem,
        service: name,
        ..
    } = *definition;
    let service = &ecosystem.services[name];
    let Given { env, binds, notes } = environment(definition)?;
    let mut container_labels = owner.labels();
    container_labels.extend([
        (labels::SERVICE.to_owned(), name.to_owned()),
        (labels::INSTANCE.to_owned(), definition.label.to_owned()),
        (labels::REVISION.to_owned(), definition.revision.to_owned()),
    ]);
    let mut binds = binds;
    let (folders, anonymous) = other_mounts(service, definition.project);
    binds.extend(folders);
    for (volume_name, target) in named_volumes(name, service) {
        let read_only = service
            .volumes
            .iter()
            .any(|m| m.target == target && m.read_only);
        let mode = if read_only { ":ro" } else { "" };
        binds.push(format!("{}:{target}{mode}", volume(owner, &volume_name)));
    }
    let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = service
        .ports
        .iter()
        .filter_map(|(port_name, port)| {
            let host = definition.published.get(port_name)?;
            Some((
                format!("{port}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(host.to_string()),
                }]),
            ))
        })
        .collect();
    let limits = &service.resources;
    let host_config = HostConfig {
        binds: Some(binds),
        port_bindings: Some(port_bindings),
        memory: limits.memory_limit.map(|b| b.bytes as i64),
        nano_cpus: limits.cpu_limit.map(|c| c.millicores as i64 * 1_000_000),
        ..HostConfig::default()
    };
    let endpoint = EndpointSettings {
        aliases: Some(vec![name.to_owned()]),
        ..EndpointSettings::default()
    };
    let body = ContainerCreateBody {
        image: Some(definition.image.to_owned()),
        entrypoint: service.entrypoint.as_ref().map(Command::argv),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        volumes: (!anonymous.is_empty()).then_some(anonymous),
        cmd: service.command.as_ref().map(Command::argv),
        env: Some(env),
        exposed_ports: Some(service.ports.values().map(|p| format!("{p}/tcp")).collect()),
        healthcheck: compose::health_test(service).map(|(test, probe)| HealthConfig {
            test: Some(test),
            interval: Some(nanos(probe.period.0)),
            timeout: Some(nanos(probe.timeout.0)),
            retries: Some(i64::from(probe.failure_threshold)),
            start_period: Some(nanos(probe.initial_delay.0)),
            start_interval: None,
        }),
        labels: Some(container_labels),
        stop_timeout: service.stop_grace_period.map(|g| g.0.as_secs() as i64),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(definition.network.to_owned(), endpoint)])),
        }),
        ..ContainerCreateBody::default()
    };
    Ok((body, notes))
}

fn nanos(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// What the container is given: `KEY=VALUE` lines, bind mounts, and notes on
/// what was left out.
struct Given {
    env: Vec<String>,
    binds: Vec<String>,
    notes: Vec<String>,
}

/// The environment as the container sees it — env files, `env:` with references
/// to peers resolved on the network, secrets read — with the bind mounts of file
/// secrets, and notes on secrets left unset.
fn environment(definition: &Definition) -> Result<Given, String> {
    let ecosystem = definition.ecosystem;
    let name = definition.service;
    let service = &ecosystem.services[name];
    let failed = |e: berth_local::LaunchError| format!("{}\n  help: {}", e.message, e.help);
    let mut env: Vec<(String, String)> = Vec::new();
    for file in &service.env_file {
        env.extend(berth_local::read_env_file(&definition.project.join(file)).map_err(failed)?);
    }
    env.extend(service.env.iter().map(|(key, value)| {
        (
            key.clone(),
            address::resolve(value, ecosystem, &ComposeNetwork(ecosystem)),
        )
    }));
    let mut binds = Vec::new();
    let mut notes = Vec::new();
    for (key, secret) in &service.secrets {
        match secret {
            // As the compose file mounts it: the official images read `KEY_FILE`.
            SecretRef::File(path) => {
                let host = std::path::absolute(definition.project.join(path))
                    .map_err(|e| format!("secret {key}: {e}"))?;
                let inside = format!(
                    "/run/secrets/{name}-{}",
                    key.to_ascii_lowercase().replace('_', "-")
                );
                binds.push(format!("{}:{inside}:ro", host.display()));
                env.push((format!("{key}_FILE"), inside));
            }
            SecretRef::Env(_) | SecretRef::Kubernetes(_) => {
                match berth_local::read_secret(definition.project, key, secret).map_err(failed)? {
                    Some(value) => env.push((key.clone(), value)),
                    None => notes.push(format!(
                        "berth: secret {key} is a Kubernetes Secret, left unset in the container"
                    )),
                }
            }
        }
    }
    let env = env
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    Ok(Given { env, binds, notes })
}
