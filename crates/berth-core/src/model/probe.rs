//! Health probes: how berth and Kubernetes tell that a service is alive and ready.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::path_or_map::{path_or_map, path_or_schema};
use super::scalar::{Command, Duration};

/// A service's probes. Readiness gates dependents and traffic; liveness restarts it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Restart the service when this fails.
    pub liveness: Option<Probe>,
    /// Send traffic and start dependents only once this succeeds.
    pub readiness: Option<Probe>,
}

/// A port named in `ports:`, or a port number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PortRef {
    Name(String),
    Number(u16),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Name(name) => f.write_str(name),
            PortRef::Number(n) => n.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortRefVisitor;
        impl Visitor<'_> for PortRefVisitor {
            type Value = PortRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port name or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRef, E> {
                Ok(PortRef::Name(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortRef, E> {
                u16::try_from(v)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(PortRef::Number)
                    .ok_or_else(|| E::custom(format!("`{v}` is not a port number\n help: a port is a whole number from 1 to 65535")))
            }
        }
        deserializer.deserialize_any(PortRefVisitor)
    }
}

impl JsonSchema for PortRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PortRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1, "maximum": 65535}]})
    }
}

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// An HTTP GET that answers 2xx or 3xx; without a port, the service's first port.
    Http { path: String, port: Option<PortRef> },
    /// A TCP connection that opens.
    Tcp { port: Option<PortRef> },
    /// A command that exits 0.
    Exec { command: Command },
}

/// A probe, written in full or as a bare HTTP path: `readiness: /ready`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Probe {
    pub check: Check,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
}

impl Probe {
    pub fn new(check: Check) -> Self {
        Probe {
            check,
            initial_delay: Duration::from_secs(0),
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
        }
    }

    pub fn http_path(&self) -> Option<&str> {
        match &self.check {
            Check::Http { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// The long form of a probe, as written in berth.yaml.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProbeSpec {
    /// HTTP path to GET, such as `/healthz`.
    http: Option<String>,
    /// Port to connect to (a name from `ports:` or a number) for a TCP check.
    tcp: Option<PortRef>,
    /// Command that must exit 0.
    exec: Option<Command>,
    /// Port for the HTTP check; the service's first port if not given.
    port: Option<PortRef>,
    /// Wait this long after start before the first check (default 0s).
    initial_delay: Option<Duration>,
    /// Time between checks (default 10s).
    period: Option<Duration>,
    /// How long one check may take (default 1s).
    timeout: Option<Duration>,
    /// Failures in a row before the probe counts as failed (default 3).
    failure_threshold: Option<u32>,
}

impl TryFrom<ProbeSpec> for Probe {
    type Error = String;

    fn try_from(spec: ProbeSpec) -> Result<Self, String> {
        let check = match (spec.http, spec.tcp, spec.exec) {
            (Some(path), None, None) => Check::Http {
                path: http_path(&path)?,
                port: spec.port,
            },
            (None, Some(port), None) => Check::Tcp { port: Some(port) },
            (None, None, Some(command)) => Check::Exec { command },
            (None, None, None) if spec.port.is_some() => Check::Tcp { port: spec.port },
            (None, None, None) => {
                return Err("the probe does not say what to check\n help: give one of `http: /path`, `tcp: PORT` or `exec: COMMAND`".into());
            }
            _ => {
                return Err("the probe names more than one check\n help: keep one of `http`, `tcp` and `exec`".into());
            }
        };
        if spec.failure_threshold == Some(0) {
            return Err("`failure_threshold` must be at least 1".into());
        }
        let defaults = Probe::new(check);
        Ok(Probe {
            initial_delay: spec.initial_delay.unwrap_or(defaults.initial_delay),
            period: spec.period.unwrap_or(defaults.period),
            timeout: spec.timeout.unwrap_or(defaults.timeout),
            failure_threshold: spec.failure_threshold.unwrap_or(defaults.failure_threshold),
            check: defaults.check,
        })
    }
}

fn http_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_owned())
    } else {
        Err(format!(
            "`{path}` is not an HTTP path\n help: paths start with `/`, as in /healthz"
        ))
    }
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        path_or_map(
            deserializer,
            "an HTTP path or a probe mapping",
            |path| {
                let path = http_path(path)?;
                Ok(Probe::new(Check::Http { path, port: None }))
            },
            |spec: ProbeSpec| Probe::try_from(spec),
        )
    }
}

impl JsonSchema for Probe {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Probe".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        path_or_schema(generator.subschema_for::<ProbeSpec>())
    }
}
