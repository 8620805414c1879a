//! The four DORA metrics over an environment's history, each with the numbers
//! behind it and its performance band.

use serde::Serialize;

use crate::history::{Outcome, Record, Trigger};

/// The report whose bands are used.
pub const REPORT: &str = "2024 Accelerate State of DevOps Report (DORA)";

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Serialize, PartialEq)]
pub struct Dora {
    pub report: &'static str,
    pub since_ms: i64,
    pub until_ms: i64,
    pub deployments: usize,
    pub frequency: Metric,
    pub lead_time: Metric,
    pub change_failure_rate: Metric,
    pub recovery_time: Metric,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Metric {
    /// The value in its unit: deployments a day, hours, or percent.
    pub value: Option<f64>,
    pub unit: &'static str,
    /// What the value was computed from.
    pub basis: String,
    /// elite, high, medium or low; `None` without data.
    pub band: Option<&'static str>,
}

/// The metrics over records that ended within `[since, until)` (Unix ms).
pub fn dora(records: &[Record], since: i64, until: i64) -> Dora {
    let finished: Vec<&Record> = records
        .iter()
        .filter(|r| r.outcome != Outcome::Running && r.outcome != Outcome::Interrupted)
        .filter(|r| r.ended.is_some_and(|e| e >= since && e < until))
        .collect();
    Dora {
        report: REPORT,
        since_ms: since,
        until_ms: until,
        deployments: finished.len(),
        frequency: frequency(&finished, since, until),
        lead_time: lead_time(&finished),
        change_failure_rate: failure_rate(&finished),
        recovery_time: recovery_time(&finished),
    }
}

fn frequency(finished: &[&Record], since: i64, until: i64) -> Metric {
    let succeeded = finished
        .iter()
        .filter(|r| r.outcome == Outcome::Succeeded && r.trigger != Trigger::Rollback)
        .count();
    let days = ((until - since) as f64 / DAY as f64).max(1.0 / 24.0);
    let per_day = succeeded as f64 / days;
    // The report's bands: on demand (several a day), daily to weekly, weekly to
    // monthly, less than monthly.
    let band = if succeeded == 0 {
        None
    } else if per_day >= 1.0 {
        Some("elite")
    } else if per_day >= 1.0 / 7.0 {
        Some("high")
    } else if per_day >= 1.0 / 30.0 {
        Some("medium")
    } else {
        Some("low")
    };
    Metric {
        value: Some(per_day),
        unit: "deployments a day",
        basis: format!("{succeeded} successful deployments in {days:.1} days"),
        band,
    }
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

/// Bands by hours, each band's upper bound given.
fn band_by_hours(hours: f64, bounds: [f64; 3]) -> &'static str {
    if hours < bounds[0] {
        "elite"
    } else if hours < bounds[1] {
        "high"
    } else if hours < bounds[2] {
        "medium"
    } else {
        "low"
    }
}

fn lead_time(finished: &[&Record]) -> Metric {
    let leads: Vec<i64> = finished
        .iter()
        .filter(|r| r.outcome == Outcome::Succeeded && r.trigger != Trigger::Rollback)
        .filter_map(|r| Some(r.ended? - r.commit_time? * 1000))
        .collect();
    let count = leads.len();
    let value = median(leads).map(|ms| ms as f64 / HOUR as f64);
    Metric {
        value,
        unit: "hours",
        basis: format!("median of {count} successful deployments with a commit time"),
        band: value.map(|h| band_by_hours(h, [24.0, 24.0 * 7.0, 24.0 * 30.0])),
    }
}

fn failure_rate(finished: &[&Record]) -> Metric {
    let failed = finished.iter().filter(|r| r.outcome.is_failure()).count();
    let total = finished.len();
    let value = (total > 0).then(|| failed as f64 * 100.0 / total as f64);
    Metric {
        value,
        unit: "percent",
        basis: format!("{failed} failed, rolled back or aborted of {total} deployments"),
        band: value.map(|rate| {
            if rate <= 5.0 {
                "elite"
            } else if rate <= 20.0 {
                "high"
            } else if rate <= 30.0 {
                "medium"
            } else {
                "low"
            }
        }),
    }
}

fn recovery_time(finished: &[&Record]) -> Metric {
    let mut sorted: Vec<&&Record> = finished.iter().collect();
    sorted.sort_by_key(|r| r.ended);
    let mut recoveries = Vec::new();
    let mut failed_at: Option<i64> = None;
    for record in sorted {
        let ended = record.ended.unwrap_or_default();
        if record.outcome.is_failure() {
            failed_at.get_or_insert(ended);
        } else if record.outcome == Outcome::Succeeded
            && let Some(at) = failed_at.take()
        {
            recoveries.push(ended - at);
        }
    }
    let count = recoveries.len();
    let value = median(recoveries).map(|ms| ms as f64 / HOUR as f64);
    Metric {
        value,
        unit: "hours",
        basis: format!(
            "median of {count} recoveries: a failed deployment to the next successful one"
        ),
        band: value.map(|h| band_by_hours(h, [1.0, 24.0, 24.0 * 7.0])),
    }
}
