//! Canary analysis: a metric provider measures a revision over a window — two
//! methods, as Flagger's providers have — and a pure judge compares the
//! measurement with the rollout's thresholds.

use std::time::Duration;

use berth_core::model::Analysis;
use berth_core::revision::Revision;
use serde::{Deserialize, Serialize};

use crate::runtime::{BoxFuture, Runtime, Traffic};

/// What a provider measured of one revision over one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub p95_ms: Option<u64>,
    /// Which provider measured it.
    pub source: String,
}

impl Measurement {
    pub fn of(traffic: &Traffic, source: &str) -> Measurement {
        Measurement {
            requests: traffic.requests,
            errors: traffic.errors,
            error_rate: traffic.error_rate(),
            p95_ms: traffic.p95().map(|p| p.as_millis() as u64),
            source: source.to_owned(),
        }
    }
}

/// Where measurements come from.
pub trait MetricProvider: Send + Sync {
    /// Measures `revision` of `service` over the next `window`.
    fn measure<'a>(
        &'a self,
        service: &'a str,
        revision: &'a Revision,
        window: Duration,
    ) -> BoxFuture<'a, Result<Measurement, String>>;
    /// Whether the provider can be asked at all.
    fn reachable(&self) -> BoxFuture<'_, bool>;
}

/// The runtime's own router as a provider: what it counted over the window.
pub struct RouterMetrics<'a>(pub &'a dyn Runtime);

impl MetricProvider for RouterMetrics<'_> {
    fn measure<'a>(
        &'a self,
        service: &'a str,
        revision: &'a Revision,
        window: Duration,
    ) -> BoxFuture<'a, Result<Measurement, String>> {
        Box::pin(async move {
            let before = self.0.traffic(service, revision).unwrap_or_default();
            tokio::time::sleep(window).await;
            let after = self.0.traffic(service, revision).unwrap_or_default();
            Ok(Measurement::of(&after.since(&before), "router"))
        })
    }

    fn reachable(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}

/// The verdict of one analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// A threshold was crossed: which, by how much.
    Breach(Vec<String>),
    /// Too few requests reached the new version to judge it.
    Inconclusive(String),
}

/// Compares a measurement with the rollout's thresholds.
pub fn judge(analysis: &Analysis, measurement: &Measurement) -> Verdict {
    if measurement.requests < analysis.min_requests() {
        return Verdict::Inconclusive(format!(
            "{} request{} reached the new version in the window; analysis needs {}",
            measurement.requests,
            if measurement.requests == 1 { "" } else { "s" },
            analysis.min_requests()
        ));
    }
    let mut breaches = Vec::new();
    if let (Some(limit), Some(rate)) = (analysis.error_rate, measurement.error_rate)
        && rate * 100.0 > limit.0
    {
        breaches.push(format!(
            "error rate {:.2}% over the limit of {}% ({} of {} requests failed)",
            rate * 100.0,
            limit.0,
            measurement.errors,
            measurement.requests
        ));
    }
    if let (Some(limit), Some(p95)) = (analysis.p95, measurement.p95_ms)
        && Duration::from_millis(p95) > limit.0
    {
        breaches.push(format!("p95 latency {p95}ms over the limit of {limit}"));
    }
    if breaches.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Breach(breaches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::model::{Duration as Span, Percent};

    fn analysis() -> Analysis {
        Analysis {
            error_rate: Some(Percent(1.0)),
            p95: Some(Span(Duration::from_millis(250))),
            min_requests: Some(10),
            ..Analysis::default()
        }
    }

    fn measured(requests: u64, errors: u64, p95_ms: u64) -> Measurement {
        Measurement {
            requests,
            errors,
            error_rate: Some(errors as f64 / requests.max(1) as f64),
            p95_ms: Some(p95_ms),
            source: "test".into(),
        }
    }

    #[test]
    fn thresholds_pass_breach_and_no_data() {
        assert_eq!(judge(&analysis(), &measured(100, 1, 100)), Verdict::Pass);
        let Verdict::Breach(why) = judge(&analysis(), &measured(100, 5, 500)) else {
            panic!("a breach")
        };
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("5.00%"), "{why:?}");
        assert!(matches!(
            judge(&analysis(), &measured(3, 3, 1)),
            Verdict::Inconclusive(_)
        ));
    }
}
