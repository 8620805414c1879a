//! Conditions — started, healthy, completed, a log line — judged once, here, over
//! the status any runtime reports.

use std::time::Duration;

use berth_core::Ecosystem;
use berth_core::model::{Condition, Kind};
use regex::Regex;
use tokio::sync::watch;

use crate::runtime::{Failure, Runtime, Unit};
use crate::status::{State, Status, UnitStatus};

/// The regular expressions that dependents wait to see in `service`'s output, in
/// the order of [`Status::log_matched`]. A runtime matches them as lines arrive.
pub fn log_patterns(ecosystem: &Ecosystem, service: &str) -> Vec<Regex> {
    let mut patterns: Vec<Regex> = Vec::new();
    for dependent in ecosystem.services.values() {
        if let Some(Condition::LogLine(pattern)) = dependent.depends_on.0.get(service)
            && !patterns.iter().any(|p| p.as_str() == pattern.as_str())
        {
            patterns.push(pattern.clone());
        }
    }
    patterns
}

/// What a service must reach before its phase counts as done.
pub fn settled(ecosystem: &Ecosystem, service: &str) -> Condition {
    let spec = &ecosystem.services[service];
    if spec.kind == Kind::Job {
        Condition::Completed
    } else if spec.health.readiness.is_some() {
        Condition::Healthy
    } else {
        Condition::Started
    }
}

/// Whether one instance meets `condition`; `patterns` are the service's log patterns.
pub fn instance_meets(status: &Status, condition: &Condition, patterns: &[Regex]) -> bool {
    match condition {
        Condition::Started => status.started,
        Condition::Healthy => status.ready,
        Condition::Completed => status.state == State::Completed,
        Condition::LogLine(regex) => patterns
            .iter()
            .position(|p| p.as_str() == regex.as_str())
            .is_some_and(|i| status.log_matched.get(i).copied().unwrap_or(false)),
    }
}

/// A unit meets a condition when every instance does (a log line: when any has).
pub fn meets(status: &UnitStatus, condition: &Condition, patterns: &[Regex]) -> bool {
    let mut met = status
        .instances
        .iter()
        .map(|s| instance_meets(s, condition, patterns));
    match condition {
        Condition::LogLine(_) => met.any(|m| m),
        _ => !status.instances.is_empty() && met.all(|m| m),
    }
}

/// What has gone wrong for good: an instance in a final state that does not meet
/// the condition.
fn hopeless(status: &UnitStatus, condition: &Condition, patterns: &[Regex]) -> Option<String> {
    let waits_for_all = !matches!(condition, Condition::LogLine(_));
    let stuck: Vec<&Status> = status
        .instances
        .iter()
        .filter(|s| s.is_final() && !instance_meets(s, condition, patterns))
        .collect();
    let all_stuck = !status.instances.is_empty() && stuck.len() == status.instances.len();
    if stuck.is_empty() || (!waits_for_all && !all_stuck) {
        return None;
    }
    Some(match &stuck[0].state {
        State::Failed(why) => why.clone(),
        state => format!("{state} before it was {condition}"),
    })
}

/// Returns once the unit meets `condition`, or fails when it never will (a job
/// that failed, an instance that gave up restarting) or `deadline` passes.
pub async fn reached(
    runtime: &dyn Runtime,
    unit: &Unit,
    condition: &Condition,
    patterns: &[Regex],
    deadline: Option<Duration>,
) -> Result<(), Failure> {
    let Some(mut receiver) = runtime.watch(unit) else {
        return Err(Failure::new(
            &unit.service,
            format!("{unit} is not running"),
        ));
    };
    let wait = wait_on(&mut receiver, condition, patterns);
    let outcome = match deadline {
        Some(deadline) => tokio::time::timeout(deadline, wait)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "not {condition} within {}",
                    humantime::format_duration(deadline)
                ))
            }),
        None => wait.await,
    };
    outcome.map_err(|message| Failure {
        service: unit.service.clone(),
        message,
        last_lines: runtime.last_lines(unit),
    })
}

async fn wait_on(
    receiver: &mut watch::Receiver<UnitStatus>,
    condition: &Condition,
    patterns: &[Regex],
) -> Result<(), String> {
    let mut why = None;
    let seen = receiver
        .wait_for(|status| {
            why = hopeless(status, condition, patterns);
            why.is_some() || meets(status, condition, patterns)
        })
        .await;
    match (seen, why) {
        (Err(_), _) => Err("its runtime stopped reporting it".to_owned()),
        (Ok(_), Some(why)) => Err(why),
        (Ok(_), None) => Ok(()),
    }
}

/// Whether the unit meets `condition` right now.
pub fn holds(
    runtime: &dyn Runtime,
    unit: &Unit,
    condition: &Condition,
    patterns: &[Regex],
) -> bool {
    runtime
        .watch(unit)
        .is_some_and(|receiver| meets(&receiver.borrow(), condition, patterns))
}
