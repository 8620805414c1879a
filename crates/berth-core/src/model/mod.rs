//! The berth.yaml model: an ecosystem of services, its environments, named
//! deployments and standards.

mod data_store;
mod depends;
mod deployment;
mod environment;
mod path_or_map;
mod probe;
mod rollout;
mod scalar;
mod secret;
mod service;
mod standards;
mod template;

pub use data_store::{CENSUS_FILE, DataStore, LocalPlace, LocalRun, Restore};
pub use depends::{Condition, DependsOn};
pub use deployment::Deployment;
pub use environment::{
    Address, BucketUrl, Endpoint, Environment, Gateway, GatewayKind, ObjectStore, Overlay, Runtime,
};
pub use probe::{Check, Health, PortRef, Probe};
pub use rollout::{Amount, Analysis, NoData, Rollout, Smoke, Strategy};
pub use scalar::{
    Bytes, Command, Cpu, Duration, Mount, MountSource, Percent, Port, PortRange, Publish,
    Utilization,
};
pub use secret::{KubernetesSecret, SecretRef};
pub use service::{
    AntiAffinity, Autoscale, Availability, Backup, Build, Kind, Local, Metrics, Resources, Restart,
    RestartPolicy, Route, Service,
};
pub use standards::{Level, Standards};
pub use template::{Field, Part, Reference, Template};

use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// The phases services deploy in when the file names none.
pub const DEFAULT_PHASES: [&str; 4] = ["data", "core", "business", "frontend"];

/// berth.yaml as written. Loading reads it part by part (to report every error, and
/// to merge environment overlays first); this type is the whole file's shape, from
/// which `berth schema` generates the JSON Schema.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "berth.yaml",
    description = "An ecosystem of services, for berth."
)]
pub struct BerthFile {
    /// The ecosystem's name: lowercase letters, digits and `-`, such as `srvthreds`.
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub standards: Standards,
    /// Deployment phases in order (default: data, core, business, frontend).
    pub phases: Option<Vec<String>>,
    pub services: IndexMap<String, Service>,
    /// Where the ecosystem runs; the first is the default for `-e`.
    #[serde(default)]
    pub environments: IndexMap<String, Environment>,
    /// Named actions, such as "start all databases".
    #[serde(default)]
    pub deployments: IndexMap<String, Deployment>,
}

/// The top-level keys of berth.yaml.
pub const TOP_LEVEL_KEYS: [&str; 7] = [
    "name",
    "description",
    "standards",
    "phases",
    "services",
    "environments",
    "deployments",
];

/// An ecosystem with one environment applied: overlays merged, defaults filled in,
/// every reference checked. This is what plans, checks and runtimes work from.
#[derive(Clone, Debug)]
pub struct Ecosystem {
    pub name: String,
    pub description: Option<String>,
    pub standards: Standards,
    pub phases: Vec<String>,
    pub environment_name: String,
    pub environment: Environment,
    /// Shared between environments that change nothing about a service.
    pub services: IndexMap<String, Arc<Service>>,
    pub deployments: IndexMap<String, Deployment>,
}

impl Ecosystem {
    /// The environment variables that secrets come from (`{ env: VAR }`).
    pub fn secret_sources(&self) -> impl Iterator<Item = &str> {
        self.services
            .values()
            .flat_map(|service| service.secrets.values())
            .filter_map(|secret| match secret {
                SecretRef::Env(var) => Some(var.as_str()),
                _ => None,
            })
    }

    /// Whether the service is kept outside this environment (`external:`).
    pub fn is_external(&self, service: &str) -> bool {
        self.environment.external.contains_key(service)
    }

    /// The phase a service deploys in (always set once loaded).
    pub fn phase_of(&self, service: &str) -> &str {
        self.services[service].phase.as_deref().unwrap_or_default()
    }

    pub fn phase_index(&self, phase: &str) -> usize {
        self.phases
            .iter()
            .position(|p| p == phase)
            .unwrap_or(usize::MAX)
    }

    pub fn namespace(&self) -> &str {
        self.environment.namespace.as_deref().unwrap_or(&self.name)
    }
}
