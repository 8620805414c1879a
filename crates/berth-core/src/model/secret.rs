//! Secrets are references to where a value is kept, never the value itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a secret's value comes from. berth passes the reference on — to the
/// process environment, a compose secret, a Kubernetes secretKeyRef — and never
/// writes the value into a file, a log or a message.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable of the shell that runs berth.
    Env(String),
    /// A file whose whole content is the value, relative to berth.yaml.
    File(String),
    /// A key of a Kubernetes Secret.
    Kubernetes(KubernetesSecret),
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSecret {
    pub name: String,
    pub key: String,
}
