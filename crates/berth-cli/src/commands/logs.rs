//! `berth logs`: services' output from `.berth/logs/`, merged in time order.

use std::path::Path;
use std::time::{Duration, SystemTime};

use berth_core::{Problem, Problems};
use berth_local::{LogFiles, LogLine};

use super::Exit;
use super::session::Session;
use crate::cli::{Format, Global};

/// Every pod of the services in the environment's cluster, each line prefixed
/// with its pod; `-n` is per pod there, as in kubectl.
fn on_cluster(
    global: &Global,
    ecosystem: &berth_core::Ecosystem,
    services: &[String],
    shown: &Shown,
) -> Result<Exit, Problems> {
    use super::cluster;
    for service in services {
        if !ecosystem.services.contains_key(service) {
            return Err(cluster::problem(format!(
                "`{service}` is no service of `{}`",
                ecosystem.name
            )));
        }
    }
    let asked = berth_kube::logs::Asked {
        follow: shown.follow,
        tail: shown.tail.map(|n| n as i64),
        since_seconds: shown.since.map(|d| d.as_secs().max(1) as i64),
        timestamps: shown.timestamps,
    };
    let json = global.output == Format::Json;
    let out = |pod: &str, line: &str| {
        if json {
            println!("{}", serde_json::json!({ "pod": pod, "line": line }));
        } else {
            println!("{pod} | {line}");
        }
    };
    cluster::runtime()?.block_on(async {
        let environment = cluster::environment(global, ecosystem).await?;
        berth_kube::logs::logs(&environment, services, &asked, &out)
            .await
            .map_err(cluster::problem)
    })?;
    Ok(Exit::Success)
}

/// Which lines `berth logs` shows, and how.
pub struct Shown {
    pub follow: bool,
    pub since: Option<Duration>,
    /// Only the last this many lines (of all shown services together).
    pub tail: Option<usize>,
    pub timestamps: bool,
}

pub fn run(global: &Global, services: &[String], shown: &Shown) -> Result<Exit, Problems> {
    let project = super::load(global)?;
    if let Some(ecosystem) = super::cluster::named(&project, global) {
        return on_cluster(global, ecosystem, services, shown);
    }
    let session = Session::of(global)?;
    let files = log_files(&session.logs(), services)?;
    let after = shown.since.map(|since| SystemTime::now() - since);
    let mut lines = files.lines();
    lines.retain(|line| after.is_none_or(|after| line.at >= after));
    if let Some(tail) = shown.tail {
        lines.drain(..lines.len().saturating_sub(tail));
    }
    let line = Line {
        width: files.width(),
        timestamps: shown.timestamps,
        json: global.output == Format::Json,
    };
    for each in &lines {
        line.print(each);
    }
    if shown.follow {
        let mut follower = files.follower();
        loop {
            for each in follower.fresh() {
                line.print(&each);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(Exit::Success)
}

/// How one line is printed: `instance | text`, with its time first if asked, or
/// as a JSON object per line.
struct Line {
    width: usize,
    timestamps: bool,
    json: bool,
}

impl Line {
    fn print(&self, each: &LogLine) {
        let (label, text) = (&each.label, &each.text);
        let time = humantime::format_rfc3339_millis(each.at);
        if self.json {
            let line =
                serde_json::json!({ "time": time.to_string(), "instance": label, "line": text });
            println!("{line}");
        } else if self.timestamps {
            println!("{time} {label:<width$} | {text}", width = self.width);
        } else {
            println!("{label:<width$} | {text}", width = self.width);
        }
    }
}

/// The log files of the named services (all if none).
fn log_files(dir: &Path, services: &[String]) -> Result<LogFiles, Problems> {
    let files = LogFiles::of(dir, services).map_err(|_| {
        Problems::one(
            Problem::new(format!("there are no logs in {}", dir.display()))
                .help("logs are kept once `berth up` has run here"),
        )
    })?;
    if files.instances.is_empty() && !services.is_empty() {
        return Err(Problems::one(
            Problem::new(format!("no logs of {}", services.join(", ")))
                .help("name services that have run since the logs were last deleted"),
        ));
    }
    Ok(files)
}
