//! `berth history` and `berth dora`: an environment's deployments, one in full
//! with its timeline and evidence, the difference between two, and the DORA
//! metrics over them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_core::{Problem, Problems};
use berth_engine::dora;
use berth_engine::history::{History, Record, now};

use super::deploy::timeline_line;
use super::{Exit, load};
use crate::cli::{Format, Global};
use crate::output;

/// Unix milliseconds as UTC to the second.
pub fn time(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// An environment's name, its deployments, and where they are kept.
type Kept = (String, Vec<Record>, Box<dyn History>);

fn records(global: &Global) -> Result<Kept, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    let environment = ecosystem.environment_name.clone();
    let history = super::cluster::history(global, &project, ecosystem)?;
    let records = history
        .list(&environment)
        .map_err(|e| Problems::one(Problem::new(e)))?;
    Ok((environment, records, history))
}

pub fn list(global: &Global) -> Result<Exit, Problems> {
    let (environment, records, _) = records(global)?;
    if global.output == Format::Json {
        let summary: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut value = serde_json::to_value(r).expect("a record serializes");
                value.as_object_mut().map(|o| o.remove("source"));
                value
            })
            .collect();
        output::json(&summary);
        return Ok(Exit::Success);
    }
    if records.is_empty() {
        println!(
            "environment `{environment}` has no deployments yet; `berth up` or `berth deploy` makes the first"
        );
        return Ok(Exit::Success);
    }
    println!(
        "{:<4} {:<12} {:<8} {:<11} {:<20} {:>8}  CHANGED",
        "NO", "REVISION", "TRIGGER", "OUTCOME", "STARTED", "TOOK"
    );
    for r in &records {
        let took = r.ended.map_or("-".to_owned(), |e| {
            format!("{:.1}s", (e - r.started) as f64 / 1000.0)
        });
        println!(
            "{:<4} {:<12} {:<8} {:<11} {:<20} {:>8}  {}",
            r.number,
            r.revision.to_string(),
            r.trigger.to_string(),
            r.outcome.to_string(),
            time(r.started),
            took,
            r.changed.join(", ")
        );
    }
    Ok(Exit::Success)
}

/// The deployment `name` names: a number, or the newest with a revision that
/// starts with it.
pub fn find<'a>(
    records: &'a [Record],
    environment: &str,
    name: &str,
) -> Result<&'a Record, Problems> {
    let by_number = name
        .parse::<u64>()
        .ok()
        .and_then(|n| records.iter().find(|r| r.number == n));
    let by_revision = || {
        (name.len() >= 4)
            .then(|| {
                records
                    .iter()
                    .rev()
                    .find(|r| r.revision.as_str().starts_with(name))
            })
            .flatten()
    };
    by_number.or_else(by_revision).ok_or_else(|| {
        Problems::one(
            Problem::new(format!(
                "environment `{environment}` has no deployment `{name}`"
            ))
            .help("`berth history` lists them: name one by its number or its revision"),
        )
    })
}

pub fn show(global: &Global, name: &str, diff: Option<&str>) -> Result<Exit, Problems> {
    let (environment, records, history) = records(global)?;
    let record = find(&records, &environment, name)?;
    if let Some(other) = diff {
        return print_diff(global, find(&records, &environment, other)?, record);
    }
    let timeline = history
        .timeline(&environment, record.number)
        .map_err(|e| Problems::one(Problem::new(e)))?;
    if global.output == Format::Json {
        let mut value = serde_json::to_value(record).expect("a record serializes");
        value.as_object_mut().map(|o| o.remove("source"));
        output::json(&serde_json::json!({ "deployment": value, "timeline": timeline }));
        return Ok(Exit::Success);
    }
    println!(
        "deployment {} of `{environment}`: {} ({})",
        record.number, record.outcome, record.trigger
    );
    println!(
        "  revision  {} (previous {})",
        record.revision,
        record
            .previous
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string)
    );
    println!(
        "  by        {}{}",
        record.user,
        record.commit.as_ref().map_or(String::new(), |c| format!(
            " at commit {}",
            &c[..c.len().min(12)]
        ))
    );
    if let Some(reason) = &record.reason {
        println!("  reason    {reason}");
    }
    println!("  started   {}", time(record.started));
    if let Some(ended) = record.ended {
        println!("  ended     {}", time(ended));
    }
    println!("  changed   {}", record.changed.join(", "));
    for (name, service) in &record.services {
        println!(
            "    {name:<20} {} ×{} {}",
            service.revision, service.replicas, service.strategy
        );
    }
    println!("timeline:");
    for entry in &timeline {
        println!("  {}", timeline_line(entry));
    }
    Ok(Exit::Success)
}

fn print_diff(global: &Global, from: &Record, to: &Record) -> Result<Exit, Problems> {
    let changes = berth_engine::history::changes(from, to);
    if global.output == Format::Json {
        output::json(&changes);
        return Ok(Exit::Success);
    }
    println!(
        "deployment {} ({}) → {} ({})",
        from.number, from.revision, to.number, to.revision
    );
    if changes.is_empty() {
        println!("  no setting differs");
    }
    for change in &changes {
        println!("  {change}");
    }
    Ok(Exit::Success)
}

pub fn dora(global: &Global, since: Duration) -> Result<Exit, Problems> {
    let (environment, records, _) = records(global)?;
    let until = now();
    let from = SystemTime::now()
        .checked_sub(since)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let report = dora::dora(&records, from, until);
    if global.output == Format::Json {
        output::json(&report);
        return Ok(Exit::Success);
    }
    println!(
        "DORA metrics of `{environment}` since {} ({} deployments)",
        time(from),
        report.deployments
    );
    println!("bands from the {}", report.report);
    for (name, metric) in [
        ("deployment frequency", &report.frequency),
        ("lead time for changes", &report.lead_time),
        ("change failure rate", &report.change_failure_rate),
        ("failed deployment recovery time", &report.recovery_time),
    ] {
        let value = metric
            .value
            .map_or("no data".to_owned(), |v| format!("{v:.2} {}", metric.unit));
        println!(
            "  {name:<32} {value:<28} {:<7} {}",
            metric.band.unwrap_or("-"),
            metric.basis
        );
    }
    Ok(Exit::Success)
}
