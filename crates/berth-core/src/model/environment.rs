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
    /// An S3-compatible object store that keeps the environment's backups,
    /// instead of `.berth/backups/` on the machine that took them.
    pub backups: Option<ObjectStore>,
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

/// An S3-compatible object store for backups. The credentials are the
/// standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), never berth.yaml.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectStore {
    /// The bucket, and a prefix in it: `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub to: BucketUrl,
    /// The endpoint of a store other than AWS S3 (MinIO, Ceph, R2…), as
    /// `http(s)://HOST[:PORT]`, addressed by path. Without it, AWS S3 in
    /// `region`, addressed by virtual host.
    pub endpoint: Option<Endpoint>,
    /// The region (default: `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// On Kubernetes, the Secret whose keys `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` the scheduled backups send with (default
    /// `ECOSYSTEM-backups`).
    pub secret: Option<String>,
}

impl ObjectStore {
    pub fn region(&self) -> String {
        self.region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| "us-east-1".to_owned())
    }
}

/// `s3://BUCKET[/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketUrl {
    pub bucket: String,
    /// Without slashes at either end; empty for none.
    pub prefix: String,
}

impl FromStr for BucketUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{s}` is not a bucket: {why}\n help: write s3://BUCKET or s3://BUCKET/PREFIX, such as s3://shop-backups/prod"
            )
        };
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules, which every compatible store follows.
        let named = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !named {
            return Err(bad(
                "a bucket's name is 3 to 63 lowercase letters, digits, dots and hyphens",
            ));
        }
        Ok(BucketUrl {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for BucketUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for BucketUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BucketUrl".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"})
    }
}

/// `http(s)://HOST[:PORT]`, with nothing after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint(pub String);

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not an endpoint\n help: write http(s)://HOST[:PORT], such as http://127.0.0.1:9000"
            )
        };
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
            .ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad());
        }
        if let Some((_, port)) = authority.rsplit_once(':')
            && !authority.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(bad());
        }
        Ok(Endpoint(s.trim_end_matches('/').to_owned()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Endpoint {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Endpoint".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^https?://[^/?#@ ]+/?$"})
    }
}
