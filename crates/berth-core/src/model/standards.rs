//! The ecosystem's own service standards, which `berth check` holds services to.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalar::PortRange;

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Standards {
    /// The range every service port must be in, such as `9000-9999`.
    pub ports: Option<PortRange>,
    /// The HTTP path every service answers health checks on, such as `/healthz`.
    pub health_path: Option<String>,
    /// Severity of each check by id: `error` (required), `warning`, or `off`.
    #[serde(default)]
    pub checks: IndexMap<String, Level>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Off,
    Warning,
    Error,
}
