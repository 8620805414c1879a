//! `berth status`: each instance of a running berth.

use berth_core::{Problems, Project};
use berth_local::{InstanceReport, Progress, Reply, Request, RolloutReport};

use super::session::{Found, Session};
use super::{Exit, hosted, load};
use crate::cli::{Format, Global};
use crate::output::{self, Paint};

pub fn run(global: &Global, watch: bool) -> Result<Exit, Problems> {
    let project = load(global)?;
    if let Some(ecosystem) = super::cluster::named(&project, global) {
        return on_cluster(global, ecosystem);
    }
    let session = Session::in_dir(project.dir());
    if let Some(message) =
        idle(&session).map(|idle| idle + &left_behind(&project, &session, global))
    {
        match global.output {
            Format::Json => output::json(
                &serde_json::json!({ "progress": null, "instances": [], "rollouts": [], "message": message }),
            ),
            Format::Text => println!("{message}"),
        }
        return Ok(Exit::Success);
    }
    if watch {
        return watch_changes(&session, global.output);
    }
    let (progress, instances, rollouts) = status(&session)?;
    match global.output {
        Format::Json => output::json(
            &serde_json::json!({ "progress": progress, "instances": instances, "rollouts": rollouts }),
        ),
        Format::Text => print!("{}", report(&instances, &rollouts)),
    }
    Ok(Exit::Success)
}

/// A cluster's workloads of the environment, with their pods per revision.
fn on_cluster(global: &Global, ecosystem: &berth_core::Ecosystem) -> Result<Exit, Problems> {
    use super::cluster;
    let rows = cluster::runtime()?.block_on(async {
        let environment = cluster::environment(global, ecosystem).await?;
        berth_kube::status::status(&environment, &environment.namespaces)
            .await
            .map_err(cluster::problem)
    })?;
    if global.output == Format::Json {
        output::json(&serde_json::json!({ "workloads": rows }));
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        println!(
            "nothing of `{}` runs in its cluster; `berth deploy -e {}` deploys it",
            ecosystem.environment_name, ecosystem.environment_name
        );
        return Ok(Exit::Success);
    }
    let header = ["SERVICE", "KIND", "READY", "READY PER REVISION", "STATE"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            let revisions: Vec<String> = row
                .revisions
                .iter()
                .map(|(revision, ready)| format!("{revision}:{ready}"))
                .collect();
            [
                row.service.clone(),
                row.kind.clone(),
                format!("{}/{}", row.ready, row.desired),
                revisions.join(" "),
                row.state.clone(),
            ]
        })
        .collect();
    let widths = widths(&header, &cells);
    for line in std::iter::once(header.map(str::to_owned)).chain(cells) {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    }
    Ok(Exit::Success)
}

/// As `down` does, and `docker compose ps`: nothing running is an answer.
fn idle(session: &Session) -> Option<String> {
    match session.found() {
        Found::Running(_) => None,
        Found::Gone(pid) => Some(format!(
            "nothing is running: the berth that ran here (pid {pid}) is gone without stopping cleanly"
        )),
        Found::Nothing => Some("nothing is running; `berth up -d` starts the ecosystem".to_owned()),
    }
}

/// What a killed berth of a Docker environment left on the Engine.
fn left_behind(project: &Project, session: &Session, global: &Global) -> String {
    let environment = session.environment().or_else(|| global.environment.clone());
    let Ok(ecosystem) = project.ecosystem(environment.as_deref()) else {
        return String::new();
    };
    let left = hosted::left_on_engine(project.dir(), ecosystem);
    if left.is_empty() {
        return String::new();
    }
    format!(
        "\n{} container{} of `{}` {} left on the Docker Engine ({}); the next `berth up` or `berth down` removes them",
        left.len(),
        if left.len() == 1 { "" } else { "s" },
        ecosystem.environment_name,
        if left.len() == 1 { "is" } else { "are" },
        left.join(", ")
    )
}

fn status(
    session: &Session,
) -> Result<(Progress, Vec<InstanceReport>, Vec<RolloutReport>), Problems> {
    let Reply::Status {
        progress,
        instances,
        rollouts,
    } = session.request(&Request::Status)?
    else {
        unreachable!("a status request is answered with a status");
    };
    Ok((progress, instances, rollouts))
}

fn report(instances: &[InstanceReport], rollouts: &[RolloutReport]) -> String {
    let mut out = table(instances, Paint::stdout());
    for rollout in rollouts {
        out += &describe(rollout);
    }
    out
}

/// `status -w`, as `kubectl get -w`: the table again, stamped, each time
/// something but the uptimes changes — which is when the berth's events come —
/// until the berth stops or Ctrl-C.
fn watch_changes(session: &Session, format: Format) -> Result<Exit, Problems> {
    let _ = berth_local::events(&session.socket(), |reply| {
        let Reply::Status {
            progress,
            instances,
            rollouts,
        } = reply
        else {
            return true;
        };
        match format {
            Format::Json => println!(
                "{}",
                serde_json::json!({ "progress": progress, "instances": instances, "rollouts": rollouts })
            ),
            Format::Text => print!(
                "{}\n{}",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
                report(&instances, &rollouts)
            ),
        }
        true
    });
    println!("berth stopped");
    Ok(Exit::Success)
}

/// A rollout under way: its weights and its last analysis.
fn describe(rollout: &RolloutReport) -> String {
    let weights: Vec<String> = rollout
        .weights
        .iter()
        .map(|(revision, weight)| format!("{revision} {weight}%"))
        .collect();
    let mut out = format!("rollout of {}: {}\n", rollout.service, weights.join(", "));
    if let Some(analysis) = &rollout.analysis {
        out += &format!(
            "  last analysis: {}\n",
            super::deploy::timeline_line(analysis)
        );
    }
    out
}

fn table(instances: &[InstanceReport], paint: Paint) -> String {
    let rows: Vec<[String; 8]> = instances
        .iter()
        .map(|i| {
            [
                i.instance.clone(),
                i.revision.clone(),
                i.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                i.state.clone(),
                if i.ready { "ready".into() } else { "-".into() },
                i.restarts.to_string(),
                i.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                i.uptime_seconds.map(uptime).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = [
        "SERVICE", "REVISION", "PID", "STATE", "HEALTH", "RESTARTS", "PORT", "UPTIME",
    ];
    let widths = widths(&header, &rows);
    let line = |cells: Vec<&str>, state: &dyn Fn(&str) -> String| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (c, w))| {
                // Padded first: the colour's escapes take no room on screen.
                let padded = format!("{c:<w$}");
                if column == STATE {
                    state(&padded)
                } else {
                    padded
                }
            })
            .collect();
        text.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec(), &|cell| cell.to_owned());
    for (row, instance) in rows.iter().zip(instances) {
        let colour = |cell: &str| match (instance.state.as_str(), instance.ready) {
            ("running", true) => paint.green(cell),
            ("running" | "starting" | "restarting", _) => paint.yellow(cell),
            ("stopped" | "completed", _) => cell.to_owned(),
            _ => paint.red(cell),
        };
        out += &line(row.iter().map(String::as_str).collect(), &colour);
    }
    out
}

/// Each column's width: its widest cell, the header's included.
fn widths<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> Vec<usize> {
    (0..N)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// The STATE column, the one coloured.
const STATE: usize = 3;

fn uptime(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{}s", seconds / 60, seconds % 60),
        _ => format!("{}h{}m", seconds / 3600, seconds % 3600 / 60),
    }
}
