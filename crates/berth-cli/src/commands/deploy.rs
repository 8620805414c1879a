//! `berth deploy` and `berth rollback`: a deployment of berth.yaml as it is now,
//! or of a stored revision, carried out by the berth that runs the environment.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_core::{Problem, Problems, Project};
use berth_engine::deploy::{DeployPlan, ServiceChange, plan_deploy};
use berth_engine::history::{Entry, History, Outcome, Record};
use berth_engine::{Deployed, Target};
use berth_history::SqliteHistory;
use berth_local::backup::Stale;
use berth_local::{Ask, Reply, Request, StateDir};

use super::session::{Found, Session};
use super::{Exit, load};
use crate::cli::{Format, Global};
use crate::output;

/// How `berth deploy` was asked to go.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub dry_run: bool,
    pub no_wait: bool,
    pub skip_backup_check: bool,
    pub prune: bool,
}

pub fn run(global: &Global, services: &[String], options: Options) -> Result<Exit, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    if super::cluster::on_cluster(ecosystem) {
        return super::deploy_on_cluster::deploy(global, &project, ecosystem, services, options);
    }
    let Options {
        dry_run,
        no_wait,
        skip_backup_check,
        ..
    } = options;
    let ecosystem = hosted_ecosystem(&project, global)?;
    // Services, or named deployments with their services: unknown names are refused here.
    let selection = berth_core::plan::select(ecosystem, services)?;
    let target = Target::of(Arc::new(ecosystem.clone()));
    let current = last_deployed(&project, &ecosystem.environment_name)?;
    let selected = if services.is_empty() {
        Vec::new()
    } else {
        selection.services
    };
    let plan = plan_deploy(&current, &target, &selected);
    let shelves = berth_local::backup::Shelves::open(
        &StateDir::of(project.dir()).0,
        &ecosystem.environment_name,
        ecosystem.environment.backups.as_ref(),
    );
    let stale = if skip_backup_check {
        Vec::new()
    } else {
        berth_local::backup::stale_before(&plan, ecosystem, &shelves, SystemTime::now())
            .map_err(unsure)?
    };
    if dry_run {
        match global.output {
            Format::Json => output::json(&plan),
            Format::Text => {
                print!("{}", describe(&plan));
                for stale in &stale {
                    println!("  backup first: {}", said(stale));
                }
            }
        }
        return Ok(Exit::Success);
    }
    let session = Session::in_dir(project.dir());
    match session.found() {
        Found::Running(_) if !stale.is_empty() => {
            Err(backup_first(&stale, &ecosystem.environment_name))
        }
        Found::Running(_) => send(
            global,
            &session,
            Ask {
                services: services.to_vec(),
                no_wait,
                ..Ask::default()
            },
        ),
        _ => {
            println!(
                "berth: nothing runs here yet; starting the ecosystem as its first deployment"
            );
            super::up::run(
                global,
                services,
                &super::up::Options {
                    detach: true,
                    quiet: true,
                    ..super::up::Options::default()
                },
            )
        }
    }
}

pub fn rollback(
    global: &Global,
    to: Option<&str>,
    services: &[String],
    reason: Option<String>,
) -> Result<Exit, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    if super::cluster::on_cluster(ecosystem) {
        return super::deploy_on_cluster::rollback(
            global, &project, ecosystem, to, services, reason,
        );
    }
    let ecosystem = hosted_ecosystem(&project, global)?;
    let history = open(&project)?;
    let records = history
        .list(&ecosystem.environment_name)
        .map_err(|e| Problems::one(Problem::new(e)))?;
    let number = rollback_number(&records, &ecosystem.environment_name, to)?;
    let session = Session::in_dir(project.dir());
    if !matches!(session.found(), Found::Running(_)) {
        return Err(Problems::one(
            Problem::new(
                "no berth is running for this berth.yaml, so there is nothing to roll back",
            )
            .help("start one with `berth up -d`"),
        ));
    }
    send(
        global,
        &session,
        Ask {
            services: services.to_vec(),
            no_wait: false,
            rollback_to: Some(number),
            reason: Some(reason.unwrap_or_else(|| format!("rollback to deployment {number}"))),
        },
    )
}

/// The deployment a rollback returns to: the one named, else the last
/// successful one that ran another revision than the current.
pub fn rollback_number(
    records: &[Record],
    environment: &str,
    to: Option<&str>,
) -> Result<u64, Problems> {
    let current = records
        .iter()
        .rev()
        .find(|r| r.outcome == Outcome::Succeeded);
    Ok(match to {
        Some(name) => super::history::find(records, environment, name)?.number,
        None => records
            .iter()
            .rev()
            .filter(|r| r.outcome == Outcome::Succeeded)
            .find(|r| Some(&r.revision) != current.map(|c| &c.revision))
            .map(|r| r.number)
            .ok_or_else(|| {
                Problems::one(
                    Problem::new(format!(
                        "environment `{}` has no earlier successful revision to roll back to",
                        environment
                    ))
                    .help("`berth history` lists its deployments; name one with `--to N`"),
                )
            })?,
    })
}

/// Sends a deployment to the running berth and shows its steps as they happen.
pub fn send(global: &Global, session: &Session, ask: Ask) -> Result<Exit, Problems> {
    session.wait_until_answering()?;
    let json = global.output == Format::Json;
    let mut result = None;
    let mut error = None;
    let mut heard = false;
    let streamed = berth_local::stream(&session.socket(), &Request::Deploy(ask), &mut |reply| {
        heard = true;
        match reply {
            Reply::Plan(plan) if !json => print!("{}", describe(&plan)),
            Reply::Entry(entry) if !json => println!("{}", timeline_line(&entry)),
            Reply::Deployed(deployed) => result = Some(deployed),
            Reply::Error { message } => error = Some(message),
            _ => {}
        }
    });
    // Cut off once the deployment had begun: the berth ended, said below.
    if let Err(e) = streamed
        && !heard
    {
        return Err(Problems::one(Problem::new(format!(
            "lost the running berth: {e}"
        ))));
    }
    if let Some(message) = error {
        return Err(Problems::one(Problem::new(message)));
    }
    let Some(result) = result else {
        return Err(Problems::one(
            Problem::new("the berth that ran the deployment ended before it did").help(
                "`berth history` shows how far it got; the next `berth up` marks it interrupted",
            ),
        ));
    };
    if json {
        output::json(&result);
    } else {
        match result.number {
            None => println!(
                "berth: nothing to deploy: every service already runs what berth.yaml says"
            ),
            Some(number) => println!("berth: deployment {number} {}", result.outcome),
        }
    }
    Ok(if result.outcome == Outcome::Succeeded {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// The gate could not read the backups: why, and how to go on without it.
pub(super) fn unsure(e: berth_local::backup::BackupError) -> Problems {
    Problems::one(
        Problem::new(format!(
            "cannot tell whether the backups are fresh: {}",
            e.message
        ))
        .help(format!("{}; or deploy with `--skip-backup-check`", e.help)),
    )
}

/// The gate's refusal: which stores to back up, and how.
fn backup_first(stale: &[Stale], environment: &str) -> Problems {
    let stores: Vec<&str> = stale.iter().map(|s| s.store.as_str()).collect();
    refused_for(
        stale,
        &format!("`berth backup -e {environment} {}`", stores.join(" ")),
    )
}

/// The gate's refusal, with `how` a backup is taken.
pub(super) fn refused_for(stale: &[Stale], how: &str) -> Problems {
    let lines: Vec<String> = stale.iter().map(said).collect();
    Problems::one(
        Problem::new(format!(
            "this deployment runs jobs against data stores without a backup within their RPO:\n  {}",
            lines.join("\n  ")
        ))
        .help(format!(
            "take one first: {how}; or deploy with `--skip-backup-check`"
        )),
    )
}

pub(super) fn said(stale: &Stale) -> String {
    let rpo = humantime::format_duration(stale.rpo);
    match stale.age {
        Some(age) => format!(
            "`{}` runs against `{}`, whose newest backup is {} old, older than its RPO of {rpo}",
            stale.job,
            stale.store,
            humantime::format_duration(Duration::from_secs(age.as_secs()))
        ),
        None => format!(
            "`{}` runs against `{}`, which has no backup (RPO {rpo})",
            stale.job, stale.store
        ),
    }
}

fn hosted_ecosystem<'a>(
    project: &'a Project,
    global: &Global,
) -> Result<&'a berth_core::Ecosystem, Problems> {
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    super::hosted::check(ecosystem)?;
    Ok(ecosystem)
}

pub fn open(project: &Project) -> Result<SqliteHistory, Problems> {
    SqliteHistory::open(&project.dir().join(".berth")).map_err(|e| Problems::one(Problem::new(e)))
}

/// What the environment's last successful deployment left running, as far as
/// the history knows.
fn last_deployed(project: &Project, environment: &str) -> Result<Deployed, Problems> {
    let records = open(project)?
        .list(environment)
        .map_err(|e| Problems::one(Problem::new(e)))?;
    let Some(record) = records
        .iter()
        .rev()
        .find(|r| r.outcome == Outcome::Succeeded)
    else {
        return Ok(Deployed::default());
    };
    let stored = berth_core::load_str(&project.path.display().to_string(), &record.source)?;
    let ecosystem = stored.ecosystem(Some(environment))?;
    Ok(Target::of(Arc::new(ecosystem.clone())).deployed())
}

pub fn describe(plan: &DeployPlan) -> String {
    describe_with(plan, &|_| None)
}

/// The plan, each change's steps said by `how` where it has its own words
/// (a cluster's rollouts are Kubernetes' own).
pub fn describe_with(plan: &DeployPlan, how: &dyn Fn(&ServiceChange) -> Option<String>) -> String {
    let short = |r: &Option<berth_core::revision::Revision>| {
        r.as_ref().map_or("-".to_owned(), ToString::to_string)
    };
    let mut out = format!(
        "environment {}: {} → {}\n",
        plan.environment,
        short(&plan.from),
        plan.to
    );
    if plan.changes.is_empty() {
        out += "nothing to deploy: every service already runs what berth.yaml says\n";
    }
    for change in &plan.changes {
        let action = format!("{:?}", change.action).to_lowercase();
        out += &format!(
            "  {} {action} {} → {} ({}, {} → {} instances)\n",
            change.service,
            short(&change.from),
            short(&change.to),
            change.strategy,
            change
                .from_replicas
                .map_or("0".to_owned(), |n| n.to_string()),
            change.replicas
        );
        for setting in &change.settings {
            out += &format!("      {setting}\n");
        }
        match how(change) {
            Some(how) => out += &format!("      how: {how}\n"),
            None => {
                let steps: Vec<String> = change.steps.iter().map(ToString::to_string).collect();
                out += &format!("      steps: {}\n", steps.join(" → "));
            }
        }
    }
    out
}

pub fn timeline_line(entry: &Entry) -> String {
    let at = super::history::time(entry.at);
    let service = entry.service.as_deref().unwrap_or("berth");
    let mut line = format!("{at}  {service}: {}", entry.what);
    if let Some(evidence) = &entry.evidence {
        if let Some(m) = &evidence.measurement {
            line += &format!(
                "\n      measured ({}): {} requests, {} errors, error rate {}, p95 {}",
                m.source,
                m.requests,
                m.errors,
                m.error_rate
                    .map_or("-".to_owned(), |r| format!("{:.2}%", r * 100.0)),
                m.p95_ms.map_or("-".to_owned(), |p| format!("{p}ms"))
            );
        }
        if !evidence.thresholds.is_empty() {
            line += &format!("\n      thresholds: {}", evidence.thresholds.join(", "));
        }
        for last in evidence.last_lines.iter().rev().take(5).rev() {
            line += &format!("\n      | {last}");
        }
    }
    line
}
