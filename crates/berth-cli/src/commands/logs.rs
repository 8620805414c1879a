//! `berth logs`: services' output from `.berth/logs/`, merged in time order.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use berth_core::{Problem, Problems};

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
    let mut entries: Vec<(SystemTime, String, String)> = Vec::new();
    for (label, paths) in &files {
        for path in paths {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            entries.extend(text.lines().filter_map(|line| parse(label, line)));
        }
    }
    entries.retain(|(at, _, _)| after.is_none_or(|after| *at >= after));
    entries.sort_by_key(|(at, _, _)| *at);
    if let Some(tail) = shown.tail {
        entries.drain(..entries.len().saturating_sub(tail));
    }
    let line = Line {
        width: files.keys().map(String::len).max().unwrap_or(0),
        timestamps: shown.timestamps,
        json: global.output == Format::Json,
    };
    for (at, label, text) in &entries {
        line.print(*at, label, text);
    }
    if shown.follow {
        tail(&files, &line);
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
    fn print(&self, at: SystemTime, label: &str, text: &str) {
        let time = humantime::format_rfc3339_millis(at);
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

/// Each instance's log files, oldest first, for the named services (all if none).
fn log_files(dir: &Path, services: &[String]) -> Result<HashMap<String, Vec<PathBuf>>, Problems> {
    let entries = std::fs::read_dir(dir).map_err(|_| {
        Problems::one(
            Problem::new(format!("there are no logs in {}", dir.display()))
                .help("logs are kept once `berth up` has run here"),
        )
    })?;
    let mut files: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(label) = name
            .strip_suffix(".log")
            .or_else(|| name.strip_suffix(".log.1"))
        else {
            continue;
        };
        let service = label.split('.').next().unwrap_or(label);
        if services.is_empty() || services.iter().any(|s| s == service) {
            files
                .entry(label.to_owned())
                .or_default()
                .push(entry.path());
        }
    }
    for paths in files.values_mut() {
        // `NAME.log.1` holds the older lines.
        paths.sort_by_key(|p| std::cmp::Reverse(p.extension().is_some_and(|e| e == "1")));
    }
    if files.is_empty() && !services.is_empty() {
        return Err(Problems::one(
            Problem::new(format!("no logs of {}", services.join(", ")))
                .help("name services that have run since the logs were last deleted"),
        ));
    }
    Ok(files)
}

/// A log file's line `TIMESTAMP TEXT`.
fn parse(label: &str, line: &str) -> Option<(SystemTime, String, String)> {
    let (at, text) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339_weak(at).ok()?;
    Some((at, label.to_owned(), text.to_owned()))
}

/// Prints lines as they are appended, until interrupted.
fn tail(files: &HashMap<String, Vec<PathBuf>>, line: &Line) {
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    let current: Vec<(&String, &PathBuf)> = files
        .iter()
        .filter_map(|(label, paths)| {
            paths
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == "log"))
                .map(|p| (label, p))
        })
        .collect();
    for (_, path) in &current {
        offsets.insert(
            (*path).clone(),
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        );
    }
    loop {
        for (label, path) in &current {
            let offset = offsets.entry((*path).clone()).or_default();
            let Ok(mut file) = std::fs::File::open(path) else {
                continue;
            };
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if size < *offset {
                *offset = 0; // rotated
            }
            let mut fresh = String::new();
            if file.seek(SeekFrom::Start(*offset)).is_ok()
                && file.read_to_string(&mut fresh).is_ok()
            {
                let complete = fresh.rfind('\n').map_or(0, |end| end + 1);
                for raw in fresh[..complete].lines() {
                    if let Some((at, label, text)) = parse(label, raw) {
                        line.print(at, &label, &text);
                    }
                }
                *offset += complete as u64;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
