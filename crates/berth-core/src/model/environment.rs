//! Environments: where an ecosystem runs and what differs there.

use std::fmt;
use std::str::FromStr;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::scalar::Port;
use super::service::Service;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// Local processes supervised by berth (the default).
    #[default]
    Local,
    /// Docker Compose on a Docker Engine.
    Compose,
    /// A Kubernetes cluster.
    Kubernetes,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Local => "local",
            Runtime::Compose => "compose",
            Runtime::Kubernetes => "kubernetes",
        })
    }
}

/// An environment as written in berth.yaml.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub description: Option<String>,
    #[serde(default)]
    pub runtime: Runtime,
    /// Production-like: the checks for high availability and backups apply.
    #[serde(default)]
    pub production: bool,
    /// Kubernetes namespace (default: the ecosystem's name).
    pub namespace: Option<String>,
    /// kubectl context to deploy to.
    pub context: Option<String>,
    /// Services kept outside this environment, by address (`host:port` or a URL).
    #[serde(default)]
    pub external: IndexMap<String, Address>,
    /// The gateway that serves `routes`.
    #[serde(default)]
    pub gateway: Gateway,
    /// A Prometheus server (`http://host:port`) that canary analysis asks with
    /// PromQL instead of counting requests itself. Locally it scrapes the gateway's
    /// `/_berth/metrics`.
    pub prometheus: Option<String>,
    /// Overlay merged onto every service of kind `service` in this environment.
    pub defaults: Option<Overlay>,
    /// Overlays merged onto single services in this environment.
    #[serde(default)]
    pub services: IndexMap<String, Overlay>,
}

/// A partial service, merged onto the base: mappings merge key by key, other values
/// replace the base's, and `null` removes a key.
#[derive(Clone, Debug, Default)]
pub struct Overlay;

impl<'de> Deserialize<'de> for Overlay {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Overlays are merged as YAML nodes and checked as part of the merged service.
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Overlay)
    }
}

impl JsonSchema for Overlay {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Overlay".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Service>()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Port of the local gateway (default 8080).
    #[serde(default = "default_gateway_port")]
    pub port: Port,
    /// Host name the ingress answers to.
    pub host: Option<String>,
    /// How Kubernetes routes are rendered (default ingress).
    #[serde(default)]
    pub kind: GatewayKind,
    /// The gateway routes attach to, as `NAME` or `NAMESPACE/NAME`. For
    /// `http_route`, a Gateway API Gateway (default: one named after the
    /// ecosystem, in the route's namespace), which the cluster's gateway
    /// controller owns. For `istio`, an Istio Gateway (default: berth makes
    /// `ECOSYSTEM-gateway` on the default ingress gateway).
    pub parent: Option<String>,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            port: default_gateway_port(),
            host: None,
            kind: GatewayKind::default(),
            parent: None,
        }
    }
}

fn default_gateway_port() -> Port {
    Port(8080)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// networking.k8s.io/v1 Ingress.
    #[default]
    Ingress,
    /// Gateway API HTTPRoute.
    HttpRoute,
    /// Istio VirtualService.
    Istio,
}

/// Where an external service is: `host:port`, or a URL such as `amqps://host:5671`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Address {
    pub host: String,
    pub port: Port,
    /// The scheme, when the address was written as a URL.
    pub scheme: Option<String>,
}

impl FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not an address\n help: write HOST:PORT, such as host.minikube.internal:27017, or a URL"
            )
        };
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_owned()), rest),
            None => (None, s),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Address {
            host: host.to_owned(),
            port: port.parse().map_err(|_| bad())?,
            scheme,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Address {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Address".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": ":[0-9]+"})
    }
}
