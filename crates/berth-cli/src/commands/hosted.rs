//! The environments a berth on this machine runs — local processes, and
//! containers on the Docker Engine for `runtime: compose` — and what runs their
//! instances.

use std::path::Path;
use std::sync::Arc;

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems};
use berth_docker::{Containers, Owner};
use berth_local::{Instances, Processes};

/// Refuses an environment no berth on this machine runs.
pub fn check(ecosystem: &Ecosystem) -> Result<(), Problems> {
    match ecosystem.environment.runtime {
        Runtime::Local | Runtime::Compose => Ok(()),
        Runtime::Kubernetes => Err(Problems::one(
            Problem::new(format!(
                "environment `{}` runs on kubernetes, which no berth on this machine runs",
                ecosystem.environment_name
            ))
            .help(format!(
                "`berth deploy -e {}` deploys it to its cluster; `berth up` runs local and compose environments",
                ecosystem.environment_name
            )),
        )),
    }
}

/// What runs the environment's instances: processes here, or containers.
pub async fn instances(
    project: &Path,
    ecosystem: &Ecosystem,
) -> Result<Arc<dyn Instances>, String> {
    match ecosystem.environment.runtime {
        Runtime::Compose => Ok(Arc::new(containers(project, ecosystem).await?)),
        _ => Processes::new(project, ecosystem.secret_sources())
            .map(|processes| Arc::new(processes) as Arc<dyn Instances>)
            .map_err(|e| format!("cannot prepare .berth/ beside berth.yaml: {e}")),
    }
}

/// The environment's containers on the Docker Engine.
pub async fn containers(project: &Path, ecosystem: &Ecosystem) -> Result<Containers, String> {
    let engine = berth_docker::connect().await?;
    let owner = Owner::new(project, &ecosystem.name, &ecosystem.environment_name);
    Ok(Containers::new(engine, owner, project))
}

/// The names of the containers a stopped berth left on the Engine, for a
/// `runtime: compose` environment; none for others, or when the Engine is away.
pub fn left_on_engine(project: &Path, ecosystem: &Ecosystem) -> Vec<String> {
    if ecosystem.environment.runtime != Runtime::Compose {
        return Vec::new();
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        match containers(project, ecosystem).await {
            Ok(containers) => containers.names().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    })
}
