//! How a new version of a service replaces the old one.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalar::{Duration, Percent};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Stop the old instances, then start the new ones.
    Recreate,
    /// Replace instances a few at a time (the default).
    #[default]
    Rolling,
    /// Start a full new set, gate it, switch traffic, keep the old set for a while.
    BlueGreen,
    /// Shift traffic to the new version in steps, with analysis at each step.
    Canary,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Recreate => "recreate",
            Strategy::Rolling => "rolling",
            Strategy::BlueGreen => "blue_green",
            Strategy::Canary => "canary",
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    #[serde(default)]
    pub strategy: Strategy,
    /// Rolling: instances above the desired count during an update (`1` or `25%`).
    pub max_surge: Option<Amount>,
    /// Rolling: instances that may be unavailable during an update (`1` or `25%`).
    pub max_unavailable: Option<Amount>,
    /// Canary: traffic percentages in order, ending at 100, such as [10, 50, 100].
    #[serde(default)]
    pub steps: Vec<u32>,
    /// Canary: how long each step runs before its analysis.
    pub pause: Option<Duration>,
    /// Canary and blue-green: what the new version must meet to go on.
    pub analysis: Option<Analysis>,
    /// Blue-green: how long the old set is kept after the switch (default 30s).
    pub keep_previous: Option<Duration>,
    /// Blue-green: wait for `berth promote` before switching traffic (default false).
    #[serde(default)]
    pub manual_promotion: bool,
    /// How long a new instance may take to become ready before the rollout is
    /// rolled back (default 5m).
    pub progress_deadline: Option<Duration>,
    /// Requests the new version must answer before it takes traffic (blue-green,
    /// canary) and after it has all of it.
    #[serde(default)]
    pub smoke: Vec<Smoke>,
}

impl Rollout {
    /// Blue-green's default, as Argo Rollouts' `scaleDownDelaySeconds`.
    pub const KEEP_PREVIOUS: std::time::Duration = std::time::Duration::from_secs(30);
    pub const PROGRESS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

    pub fn keep_previous(&self) -> std::time::Duration {
        self.keep_previous.map_or(Self::KEEP_PREVIOUS, |d| d.0)
    }

    pub fn progress_deadline(&self) -> std::time::Duration {
        self.progress_deadline
            .map_or(Self::PROGRESS_DEADLINE, |d| d.0)
    }
}

/// One smoke check: a request and what it must answer.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    /// The path to request, such as `/api/health`.
    pub path: String,
    /// The HTTP method (default GET).
    #[serde(default = "get")]
    pub method: String,
    /// The status it must answer with (default 200).
    #[serde(default = "ok")]
    pub status: u16,
    /// Text the body must contain.
    pub body: Option<String>,
}

fn get() -> String {
    "GET".to_owned()
}

fn ok() -> u16 {
    200
}

/// What an analysis that saw no requests means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoData {
    /// Inconclusive is a failure: the rollout is rolled back, and says why (default).
    #[default]
    Fail,
    /// Inconclusive pauses the rollout until `berth promote` or `berth abort`.
    Pause,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Highest error rate allowed, such as `1%`.
    pub error_rate: Option<Percent>,
    /// Highest 95th-percentile latency allowed, such as `2s`.
    pub p95: Option<Duration>,
    /// How often the metrics are read (default 1m).
    pub interval: Option<Duration>,
    /// Breaches tolerated before the rollout is rolled back (default 0: the first
    /// breach rolls it back), as Argo Rollouts' `failureLimit`.
    #[serde(default)]
    pub failure_limit: u32,
    /// Requests an analysis needs before it judges (default 1).
    pub min_requests: Option<u64>,
    /// What an analysis that saw too few requests means: `fail` (default) or `pause`.
    #[serde(default)]
    pub no_data: NoData,
}

impl Analysis {
    pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn interval(&self) -> std::time::Duration {
        self.interval.map_or(Self::INTERVAL, |d| d.0)
    }

    pub fn min_requests(&self) -> u64 {
        self.min_requests.unwrap_or(1).max(1)
    }
}

/// A count of instances, or a percentage of the replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Amount {
    Count(u32),
    Percent(u32),
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is neither a count nor a percentage\n help: write a number such as 1 or a percentage such as 25%"
            )
        };
        match s.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .map(Amount::Percent)
                .ok_or_else(bad),
            None => s.parse().map(Amount::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]})
    }
}
