//! The runtime port: what every runtime — local processes, the Docker Engine,
//! Kubernetes — offers the engine. A *unit* is one service at one revision; a
//! runtime applies units with a replica count, removes them, lists what it runs,
//! reports each unit's status as it changes, and routes a service's traffic
//! between its revisions by weight. Everything that decides — conditions,
//! strategies, analysis — lives in the engine, once, over what runtimes report.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use berth_core::Ecosystem;
use berth_core::revision::Revision;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::status::UnitStatus;

/// The futures runtimes return: `Send`, so that any task may drive them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One service at one revision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unit {
    pub service: String,
    pub revision: Revision,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.service, self.revision)
    }
}

/// A unit with what it is: the service as this ecosystem describes it. A
/// rollback hands back the ecosystem that was deployed, not today's file.
#[derive(Clone, Debug)]
pub struct Desired {
    pub unit: Unit,
    pub ecosystem: Arc<Ecosystem>,
}

impl Desired {
    pub fn new(ecosystem: Arc<Ecosystem>, service: &str, revision: Revision) -> Desired {
        Desired {
            unit: Unit {
                service: service.to_owned(),
                revision,
            },
            ecosystem,
        }
    }
}

/// A runtime that runs the units of one ecosystem in one environment.
pub trait Runtime: Send + Sync {
    /// Makes exactly `replicas` instances of the unit run: starts what is missing,
    /// stops what is over (the newest first). Applying what already runs is a no-op.
    fn apply<'a>(
        &'a self,
        desired: &'a Desired,
        replicas: u32,
    ) -> BoxFuture<'a, Result<(), Failure>>;
    /// Stops every instance of the unit and forgets it.
    fn remove<'a>(&'a self, unit: &'a Unit) -> BoxFuture<'a, ()>;
    /// Every unit the runtime knows, with its status: what an earlier berth left
    /// behind included, so that it can be adopted or cleaned.
    fn units(&self) -> Vec<(Unit, UnitStatus)>;
    /// The unit's status, as it changes; `None` for a unit never applied.
    fn watch(&self, unit: &Unit) -> Option<watch::Receiver<UnitStatus>>;
    /// The last lines the unit's instances wrote, for a failure's evidence.
    fn last_lines(&self, unit: &Unit) -> Vec<String>;
    /// The traffic router: the share, in percent, each revision of `service`
    /// receives. No weights spreads requests evenly over every ready instance.
    fn set_weights(&self, service: &str, weights: &[(Revision, u32)]);
    /// What the router counted for one revision since it began.
    fn traffic(&self, service: &str, revision: &Revision) -> Option<Traffic>;
    /// Where the new version can be reached directly for smoke checks, bypassing
    /// the router: `host:port` of one ready instance.
    fn direct_address(&self, unit: &Unit) -> Option<String>;
    /// Where the service's router takes requests: `host:port`.
    fn service_address(&self, service: &str) -> Option<String>;
}

/// Requests, errors and a latency histogram, as a router counts them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub requests: u64,
    /// Responses with a 5xx status, and requests no instance answered.
    pub errors: u64,
    /// Counts per bucket of [`Traffic::BUCKETS`], not cumulative.
    pub buckets: Vec<u64>,
}

impl Traffic {
    /// Upper bounds of the latency buckets; the last is unbounded.
    pub const BUCKETS: [Duration; 12] = [
        Duration::from_millis(1),
        Duration::from_millis(2),
        Duration::from_millis(5),
        Duration::from_millis(10),
        Duration::from_millis(25),
        Duration::from_millis(50),
        Duration::from_millis(100),
        Duration::from_millis(250),
        Duration::from_millis(500),
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(5),
    ];

    pub fn record(&mut self, failed: bool, took: Duration) {
        if self.buckets.len() != Self::BUCKETS.len() + 1 {
            self.buckets = vec![0; Self::BUCKETS.len() + 1];
        }
        self.requests += 1;
        self.errors += u64::from(failed);
        let bucket = Self::BUCKETS
            .iter()
            .position(|bound| took <= *bound)
            .unwrap_or(Self::BUCKETS.len());
        self.buckets[bucket] += 1;
    }

    /// What was counted after `earlier`.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            buckets: (0..self.buckets.len())
                .map(|i| {
                    self.buckets[i].saturating_sub(earlier.buckets.get(i).copied().unwrap_or(0))
                })
                .collect(),
        }
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    /// The upper bound of the bucket that holds the 95th percentile.
    pub fn p95(&self) -> Option<Duration> {
        if self.requests == 0 {
            return None;
        }
        let rank = (self.requests as f64 * 0.95).ceil() as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(
                    Self::BUCKETS
                        .get(i)
                        .copied()
                        .unwrap_or(Duration::from_secs(10)),
                );
            }
        }
        None
    }
}

/// Why a deployment cannot go on, with the service's last output to show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub service: String,
    pub message: String,
    pub last_lines: Vec<String>,
}

impl Failure {
    pub fn new(service: &str, message: impl Into<String>) -> Self {
        Failure {
            service: service.to_owned(),
            message: message.into(),
            last_lines: Vec::new(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.service, self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_windows_and_percentiles() {
        let mut traffic = Traffic::default();
        for _ in 0..90 {
            traffic.record(false, Duration::from_millis(3));
        }
        let before = traffic.clone();
        for _ in 0..10 {
            traffic.record(true, Duration::from_millis(700));
        }
        assert_eq!(traffic.p95(), Some(Duration::from_secs(1)));
        let window = traffic.since(&before);
        assert_eq!(window.requests, 10);
        assert_eq!(window.error_rate(), Some(1.0));
        assert_eq!(before.p95(), Some(Duration::from_millis(5)));
        assert_eq!(Traffic::default().error_rate(), None);
    }
}
