//! Named deployments: the actions a team's home-made deployment CLI used to offer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalar::Command;

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub description: Option<String>,
    /// Environments the deployment applies to (default: all).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Services to deploy; what they depend on comes along.
    #[serde(default)]
    pub services: Vec<String>,
    /// Other deployments whose services this one deploys too.
    #[serde(default)]
    pub include: Vec<String>,
    /// Commands run before, in the directory of berth.yaml.
    #[serde(default)]
    pub pre: Vec<Command>,
    /// Commands run after the services are up.
    #[serde(default)]
    pub post: Vec<Command>,
}
