//! Revisions: what a service *is* in an environment, as a content hash. A
//! service's [`Workload`] is its fully resolved, runtime-neutral desired state —
//! what it runs, its environment and secret references, resources, probes and
//! ports — without replicas or rollout settings, which change how many run and
//! how they are replaced, not what runs. Two workloads with the same hash are the
//! same thing to run; deploy touches only services whose hash changed. The
//! ecosystem revision hashes every service's revision, as compose's config-hash
//! label does for one container.

use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::address::{self, Addresses};
use crate::model::{
    Build, Command, Ecosystem, Health, Kind, Local, Port, Resources, Restart, SecretRef, Service,
};

/// A content hash, shown as its first twelve hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revision(pub String);

impl Revision {
    fn of(bytes: &[u8]) -> Revision {
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Revision(hex[..12].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What runs for one service, resolved for one environment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<Local>,
    pub ports: BTreeMap<String, Port>,
    /// Values with references resolved to the environment's service names and
    /// declared ports, so that a dependency's new address changes this hash too.
    pub env: BTreeMap<String, String>,
    pub env_file: Vec<String>,
    /// Where each secret comes from; never its value.
    pub secrets: BTreeMap<String, SecretRef>,
    pub health: Health,
    pub resources: Resources,
    pub restart: Restart,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<String>,
}

impl Workload {
    pub fn of(ecosystem: &Ecosystem, name: &str) -> Workload {
        let service: &Service = &ecosystem.services[name];
        let declared = Declared(ecosystem);
        Workload {
            kind: service.kind,
            image: service.image.clone(),
            build: service.build.clone(),
            command: service.command.clone(),
            local: service.local.clone(),
            ports: service
                .ports
                .iter()
                .map(|(name, port)| (name.clone(), *port))
                .collect(),
            env: service
                .env
                .iter()
                .map(|(key, value)| (key.clone(), address::resolve(value, ecosystem, &declared)))
                .collect(),
            env_file: service.env_file.clone(),
            secrets: service
                .secrets
                .iter()
                .map(|(key, secret)| (key.clone(), secret.clone()))
                .collect(),
            health: service.health.clone(),
            resources: service.resources.clone(),
            restart: service.restart.clone(),
            stop_grace_period: service.stop_grace_period.map(|d| d.to_string()),
        }
    }

    pub fn revision(&self) -> Revision {
        Revision::of(&serde_json::to_vec(self).expect("a workload serializes"))
    }

    /// Every setting as `path = value`, in a stable order, for diffs.
    pub fn settings(&self) -> BTreeMap<String, String> {
        let mut settings = BTreeMap::new();
        flatten(
            "",
            &serde_json::to_value(self).expect("a workload serializes"),
            &mut settings,
        );
        settings
    }
}

/// Service names and declared ports: what a revision may depend on, unlike the
/// ports a runtime happens to pick.
struct Declared<'a>(&'a Ecosystem);

impl Addresses for Declared<'_> {
    fn host(&self, service: &str) -> String {
        service.to_owned()
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.services.get(service)?.ports.get(port).copied()
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                flatten(&join(key), value, out);
            }
        }
        serde_json::Value::Null => {}
        serde_json::Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// One setting that differs between two workloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub setting: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => write!(f, "~ {}: {from} → {to}", self.setting),
            (None, Some(to)) => write!(f, "+ {}: {to}", self.setting),
            (Some(from), None) => write!(f, "- {}: {from}", self.setting),
            (None, None) => write!(f, "  {}", self.setting),
        }
    }
}

/// What changed from `from` to `to`, setting by setting; a new service is every
/// setting added.
pub fn diff(from: Option<&Workload>, to: &Workload) -> Vec<Change> {
    diff_settings(
        &from.map(Workload::settings).unwrap_or_default(),
        &to.settings(),
    )
}

/// The settings that differ between two sets of `path = value`, in path order.
pub fn diff_settings(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<Change> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| Change {
            setting: key.clone(),
            from: before.get(key).cloned(),
            to: after.get(key).cloned(),
        })
        .collect()
}

/// The workload and revision of every service the environment runs (not those it
/// keeps `external:`), in the ecosystem's order.
pub fn workloads(ecosystem: &Ecosystem) -> IndexMap<String, Workload> {
    ecosystem
        .services
        .keys()
        .filter(|name| !ecosystem.is_external(name))
        .map(|name| (name.clone(), Workload::of(ecosystem, name)))
        .collect()
}

/// The ecosystem revision: a hash over every service's name and revision.
pub fn ecosystem_revision<'a>(
    revisions: impl IntoIterator<Item = (&'a str, &'a Revision)>,
) -> Revision {
    let mut sorted: Vec<(&str, &Revision)> = revisions.into_iter().collect();
    sorted.sort();
    let text: String = sorted
        .iter()
        .map(|(name, revision)| format!("{name}={revision}\n"))
        .collect();
    Revision::of(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: r
services:
  api:
    image: api:1
    ports: { http: 9001 }
    replicas: 2
    env: { LEVEL: info }
  web:
    image: web:1
    env: { API: '${api.url}' }
";

    fn revisions(yaml: &str) -> IndexMap<String, Revision> {
        let project = crate::load_str("berth.yaml", yaml).unwrap();
        workloads(project.ecosystem(None).unwrap())
            .into_iter()
            .map(|(name, workload)| (name, workload.revision()))
            .collect()
    }

    #[test]
    fn replicas_and_rollout_do_not_change_a_revision_but_what_runs_does() {
        let base = revisions(YAML);
        assert_eq!(base, revisions(&YAML.replace("replicas: 2", "replicas: 5")));
        let canary = YAML.replace(
            "replicas: 2",
            "replicas: 2\n    rollout: { strategy: canary, steps: [50, 100] }",
        );
        assert_eq!(base, revisions(&canary));
        let image = revisions(&YAML.replace("image: api:1", "image: api:2"));
        assert_ne!(base["api"], image["api"]);
        assert_eq!(base["web"], image["web"]);
    }

    #[test]
    fn a_dependency_s_new_address_changes_its_dependent() {
        let base = revisions(YAML);
        let moved = revisions(&YAML.replace("9001", "9005"));
        assert_ne!(base["api"], moved["api"]);
        assert_ne!(base["web"], moved["web"]);
    }

    #[test]
    fn the_diff_names_each_changed_setting() {
        let project = crate::load_str("berth.yaml", YAML).unwrap();
        let before = Workload::of(project.ecosystem(None).unwrap(), "api");
        let changed = YAML.replace("LEVEL: info", "LEVEL: debug, EXTRA: x");
        let project = crate::load_str("berth.yaml", &changed).unwrap();
        let after = Workload::of(project.ecosystem(None).unwrap(), "api");
        let lines: Vec<String> = diff(Some(&before), &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(lines, ["+ env.EXTRA: x", "~ env.LEVEL: info → debug"]);
    }

    #[test]
    fn the_ecosystem_revision_ignores_order() {
        let a = Revision("a".into());
        let b = Revision("b".into());
        assert_eq!(
            ecosystem_revision([("x", &a), ("y", &b)]),
            ecosystem_revision([("y", &b), ("x", &a)])
        );
        assert_ne!(
            ecosystem_revision([("x", &a), ("y", &b)]),
            ecosystem_revision([("x", &b), ("y", &a)])
        );
    }
}
