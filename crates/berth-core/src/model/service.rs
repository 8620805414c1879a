//! One service of an ecosystem: what it runs, how it is checked, what it needs.

use std::fmt;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::data_store::DataStore;
use super::depends::DependsOn;
use super::path_or_map::{path_or_map, path_or_schema};
use super::probe::Health;
use super::rollout::Rollout;
use super::scalar::{Bytes, Command, Cpu, Duration, Mount, Port, Publish, Utilization};
use super::secret::SecretRef;
use super::template::Template;

/// What kind of thing a service is. The data kinds are built in: berth knows their
/// image, port, probe, URL form, backups, and how to run them locally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A long-running process (the default).
    #[default]
    Service,
    /// Runs to completion; others may depend on it being `completed`.
    Job,
    Postgres,
    Mongodb,
    Redis,
    Rabbitmq,
}

impl Kind {
    pub fn data_store(self) -> Option<&'static DataStore> {
        DataStore::of(self)
    }

    pub fn is_data(self) -> bool {
        self.data_store().is_some()
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Job => "job",
            Kind::Postgres => "postgres",
            Kind::Mongodb => "mongodb",
            Kind::Redis => "redis",
            Kind::Rabbitmq => "rabbitmq",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A service as written in berth.yaml, with an environment's overlay applied.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// service (default), job, or a data kind: postgres, mongodb, redis, rabbitmq.
    #[serde(default)]
    pub kind: Kind,
    pub description: Option<String>,
    /// The phase the service deploys in; data kinds default to `data`, others to `core`.
    pub phase: Option<String>,
    /// Container image with a pinned tag. Data kinds default to their official image.
    pub image: Option<String>,
    /// For data kinds: the image tag of the built-in image, such as `16` for postgres.
    pub version: Option<String>,
    pub build: Option<Build>,
    /// What the container runs, replacing the image's ENTRYPOINT; `command` is
    /// then its arguments.
    pub entrypoint: Option<Command>,
    /// What the container runs (overrides the image's command, CMD): with an
    /// entrypoint, the arguments it is given.
    pub command: Option<Command>,
    /// How to run the service as a local process.
    pub local: Option<Local>,
    /// Named ports the service listens on, such as `{ http: 3001 }`.
    #[serde(default)]
    pub ports: IndexMap<String, Port>,
    /// Where container runtimes publish the ports on the host, by port name:
    /// `{ http: "127.0.0.1:8080" }`. Without it, each port is published on its
    /// own number; with it, only the ports it names are.
    pub publish: Option<IndexMap<String, Publish>>,
    /// The user, and group, the container runs as: `1000`, `1000:0`, `app`.
    pub user: Option<String>,
    /// The folder the container's command starts in.
    pub working_dir: Option<String>,
    /// Volumes mounted into the container: `NAME:/path`, `./dir:/path`, `/path`.
    #[serde(default)]
    pub volumes: Vec<Mount>,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub depends_on: DependsOn,
    /// Environment variables; values may refer to other services: `${mongo.url}`.
    #[serde(default)]
    pub env: IndexMap<String, Template>,
    /// Files of KEY=VALUE lines, relative to berth.yaml.
    #[serde(default)]
    pub env_file: Vec<String>,
    /// Environment variables whose values are secrets, by reference.
    #[serde(default)]
    pub secrets: IndexMap<String, SecretRef>,
    #[serde(default)]
    pub resources: Resources,
    /// Size of the persistent volume of a data kind, such as `10Gi`.
    pub storage: Option<Bytes>,
    /// Instances to run (default 1).
    pub replicas: Option<u32>,
    pub autoscale: Option<Autoscale>,
    #[serde(default)]
    pub rollout: Rollout,
    #[serde(default)]
    pub availability: Availability,
    /// Path prefixes the gateway routes to this service.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Where Prometheus scrapes the service: a path on its main port, or
    /// `{ port, path }`. A service that declares none is not scraped.
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    /// Free-form metadata: Docker labels on containers, annotations on pods
    /// (such as traefik's `Host(...)` rules, which are no label values).
    #[serde(default)]
    pub annotations: IndexMap<String, String>,
    /// Compose profiles: a service that has any runs only when it is named, or
    /// a deployment that names it, is; rendered compose files keep them.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Kubernetes namespace of this service, when the ecosystem keeps one per application.
    pub namespace: Option<String>,
    #[serde(default)]
    pub restart: Restart,
    /// How long a stopping service gets between SIGTERM and SIGKILL (default 10s).
    pub stop_grace_period: Option<Duration>,
    /// Scheduled backups of a data kind.
    pub backup: Option<Backup>,
    /// Checks this service is excused from, each with the reason.
    #[serde(default)]
    pub waive: IndexMap<String, String>,
}

impl Service {
    pub fn replicas(&self) -> u32 {
        self.replicas.unwrap_or(1)
    }

    /// The first declared port: the one `${svc.port}` and `${svc.url}` mean.
    pub fn main_port(&self) -> Option<(&str, Port)> {
        self.ports
            .first()
            .map(|(name, port)| (name.as_str(), *port))
    }

    /// The ports a container runtime publishes on the host, by name: every port
    /// on its own number unless `publish:` says which and where.
    pub fn published(&self) -> Vec<(&str, Publish)> {
        match &self.publish {
            Some(publish) => publish
                .iter()
                .map(|(name, at)| (name.as_str(), at.clone()))
                .collect(),
            None => self
                .ports
                .iter()
                .map(|(name, port)| {
                    let at = Publish {
                        address: None,
                        port: Some(*port),
                    };
                    (name.as_str(), at)
                })
                .collect(),
        }
    }

    pub fn is_long_running(&self) -> bool {
        self.kind != Kind::Job
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Build context, relative to berth.yaml (default `.`).
    #[serde(default = "current_dir")]
    pub context: String,
    pub dockerfile: Option<String>,
    /// The stage to build, for one shared Dockerfile with a stage per service.
    pub target: Option<String>,
    #[serde(default)]
    pub args: IndexMap<String, String>,
}

fn current_dir() -> String {
    ".".to_owned()
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Local {
    /// The command that runs the service as a local process.
    pub run: Command,
    /// Working directory, relative to berth.yaml.
    pub workdir: Option<String>,
}

/// Requests and limits in Kubernetes quantity syntax.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU request, such as `250m`.
    pub cpu: Option<Cpu>,
    /// Memory request, such as `512Mi`.
    pub memory: Option<Bytes>,
    pub cpu_limit: Option<Cpu>,
    pub memory_limit: Option<Bytes>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    /// Target average CPU utilisation, in percent of the request: `70%`.
    pub cpu: Option<Utilization>,
    /// Target average memory utilisation, in percent of the request: `80%`.
    pub memory: Option<Utilization>,
}

/// How the service stays available through disruptions (Kubernetes).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// Render a PodDisruptionBudget when there is more than one replica (default true).
    #[serde(default = "yes")]
    pub disruption_budget: bool,
    /// Pods that must stay up during voluntary disruptions (default: replicas - 1).
    pub min_available: Option<u32>,
    /// Keep replicas on different nodes (default preferred).
    #[serde(default)]
    pub anti_affinity: AntiAffinity,
}

impl Default for Availability {
    fn default() -> Self {
        Availability {
            disruption_budget: true,
            min_available: None,
            anti_affinity: AntiAffinity::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Where a service serves its Prometheus metrics: `/metrics` or `{ port, path }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub path: String,
    /// A port name of the service (default its main port).
    pub port: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MetricsSpec {
    path: String,
    port: Option<String>,
}

fn metrics_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_owned())
    } else {
        Err(format!(
            "metrics path `{path}` is not a path\n help: write it as a path, such as /metrics"
        ))
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        path_or_map(
            deserializer,
            "a path such as /metrics, or { port, path }",
            |path| {
                Ok(Metrics {
                    path: metrics_path(path)?,
                    port: None,
                })
            },
            |spec: MetricsSpec| {
                Ok(Metrics {
                    path: metrics_path(&spec.path)?,
                    port: spec.port,
                })
            },
        )
    }
}

impl JsonSchema for Metrics {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Metrics".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        path_or_schema(generator.subschema_for::<MetricsSpec>())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AntiAffinity {
    #[default]
    Preferred,
    Required,
    None,
}

/// A path prefix the gateway sends to this service: `/engine` or `{ prefix, rewrite }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub prefix: String,
    /// What the prefix becomes on the way to the service, such as `/`.
    pub rewrite: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    prefix: String,
    rewrite: Option<String>,
}

fn route_prefix(prefix: &str) -> Result<String, String> {
    if prefix.starts_with('/') {
        Ok(prefix.to_owned())
    } else {
        Err(format!(
            "route `{prefix}` is not a path prefix\n help: write routes as paths such as /engine"
        ))
    }
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        path_or_map(
            deserializer,
            "a path prefix or { prefix, rewrite }",
            |prefix| {
                Ok(Route {
                    prefix: route_prefix(prefix)?,
                    rewrite: None,
                })
            },
            |spec: RouteSpec| {
                Ok(Route {
                    prefix: route_prefix(&spec.prefix)?,
                    rewrite: spec.rewrite,
                })
            },
        )
    }
}

impl JsonSchema for Route {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Route".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        path_or_schema(generator.subschema_for::<RouteSpec>())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    Always,
    #[default]
    OnFailure,
    Never,
}

/// When a stopped process is started again: a policy name, or the policy with its backoff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Restart {
    pub policy: RestartPolicy,
    /// Give up after this many restarts in a row (default: never give up).
    pub max_restarts: Option<u32>,
    /// First wait before a restart; it doubles on each failure in a row.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            policy: RestartPolicy::default(),
            max_restarts: None,
            backoff: Duration(std::time::Duration::from_millis(500)),
            max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RestartSpec {
    #[serde(default)]
    policy: RestartPolicy,
    max_restarts: Option<u32>,
    backoff: Option<Duration>,
    max_backoff: Option<Duration>,
}

impl<'de> Deserialize<'de> for Restart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RestartVisitor;
        impl<'de> Visitor<'de> for RestartVisitor {
            type Value = Restart;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "always, on_failure, never, or { policy, max_restarts, backoff, max_backoff }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Restart, E> {
                let policy = RestartPolicy::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(Restart {
                    policy,
                    ..Restart::default()
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Restart, A::Error> {
                let spec = RestartSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let default = Restart::default();
                Ok(Restart {
                    policy: spec.policy,
                    max_restarts: spec.max_restarts,
                    backoff: spec.backoff.unwrap_or(default.backoff),
                    max_backoff: spec.max_backoff.unwrap_or(default.max_backoff),
                })
            }
        }
        deserializer.deserialize_any(RestartVisitor)
    }
}

impl JsonSchema for Restart {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Restart".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let policy = generator.subschema_for::<RestartPolicy>();
        let spec = generator.subschema_for::<RestartSpec>();
        json_schema!({"anyOf": [policy, spec]})
    }
}

/// Scheduled backups of a data kind (pg_dump, mongodump, a redis snapshot copy,
/// a rabbitmq definitions export).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Cron schedule (default `0 2 * * *`, daily at 02:00).
    #[serde(default = "nightly")]
    pub schedule: String,
    /// How many backups to keep (default 7).
    #[serde(default = "a_week")]
    pub retention: u32,
    /// The oldest a backup may grow before it goes (`30d`), however few
    /// there are; the newest always stays.
    pub keep_for: Option<Duration>,
    /// The longest a restore may take (recovery time objective), which
    /// `berth backup drill` measures against.
    pub rto: Option<Duration>,
    /// The oldest the newest restorable point may be (recovery point
    /// objective), which `berth backup drill` measures against.
    pub rpo: Option<Duration>,
}

fn nightly() -> String {
    "0 2 * * *".to_owned()
}

fn a_week() -> u32 {
    7
}
