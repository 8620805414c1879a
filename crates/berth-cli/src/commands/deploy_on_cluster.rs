//! `berth deploy` and `berth rollback` on a `runtime: kubernetes` environment:
//! berth itself talks to the cluster — no berth runs beside it — and the
//! history is the cluster's. `--dry-run` asks the server what each object
//! would become and prints the difference from what runs.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_engine::deploy::DeployPlan;
use berth_engine::history::{Outcome, Trigger, git_head};
use berth_kube::deploy::{Ended, Gate, Refused, Request, Said, deploy as deploy_to, prepare};
use berth_kube::{Environment, Missing};
use berth_local::StateDir;
use berth_local::backup::{Shelves, stale_before};

use super::Exit;
use super::cluster::{environment, problem, runtime};
use super::deploy::{
    Options, describe_with, refused_for, rollback_number, said, timeline_line, unsure,
};
use crate::cli::{Format, Global};
use crate::output;

pub fn deploy(
    global: &Global,
    project: &Project,
    ecosystem: &Ecosystem,
    services: &[String],
    options: Options,
) -> Result<Exit, Problems> {
    berth_core::plan::select(ecosystem, services)?;
    let source = std::fs::read_to_string(&project.path)
        .map_err(|e| problem(format!("cannot read {}: {e}", project.path.display())))?;
    let request = Request {
        ecosystem: Arc::new(ecosystem.clone()),
        source,
        trigger: Trigger::Deploy,
        reason: None,
        services: services.to_vec(),
        stored: None,
        prune: options.prune,
        no_wait: options.no_wait,
        commit: git_head(project.dir()),
        gate: (!options.skip_backup_check).then(|| backup_gate(project.dir(), ecosystem)),
    };
    runtime()?.block_on(async {
        let environment = environment(global, ecosystem).await?;
        if options.dry_run {
            return dry_run(global, &environment, &request).await;
        }
        run(global, &environment, &request).await
    })
}

pub fn rollback(
    global: &Global,
    project: &Project,
    ecosystem: &Ecosystem,
    to: Option<&str>,
    services: &[String],
    reason: Option<String>,
) -> Result<Exit, Problems> {
    runtime()?.block_on(async {
        let environment = environment(global, ecosystem).await?;
        let records = environment.history.all().await.map_err(problem)?;
        let number = rollback_number(&records, &ecosystem.environment_name, to)?;
        let record = records
            .iter()
            .find(|r| r.number == number)
            .expect("the number came from these records");
        let stored = berth_core::load_str(
            &format!("{} (as deployed in {number})", project.path.display()),
            &record.source,
        )?;
        let deployed = stored.ecosystem(Some(&ecosystem.environment_name))?;
        let request = Request {
            ecosystem: Arc::new(deployed.clone()),
            source: record.source.clone(),
            trigger: Trigger::Rollback,
            reason: Some(reason.unwrap_or_else(|| format!("rollback to deployment {number}"))),
            services: services.to_vec(),
            stored: Some(environment.history.objects(number).await.map_err(problem)?),
            // What the earlier revision did not have goes, as it did not run then.
            prune: services.is_empty(),
            no_wait: false,
            commit: git_head(project.dir()),
            gate: None,
        };
        run(global, &environment, &request).await
    })
}

async fn run(
    global: &Global,
    environment: &Environment,
    request: &Request,
) -> Result<Exit, Problems> {
    let json = global.output == Format::Json;
    let show = |said: Said| {
        if json {
            return;
        }
        match said {
            Said::Plan(plan) => print!("{}", said_plan(plan, &request.ecosystem)),
            Said::Entry(entry) => println!("{}", timeline_line(entry)),
            Said::Progress(service, what) => println!("      {service}: {what}"),
        }
    };
    let ended = deploy_to(environment, request, &show)
        .await
        .map_err(refusal)?;
    said_ended(global, &ended);
    Ok(if ended.outcome == Outcome::Succeeded {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// The deploy gate of backups on a cluster. berth sees a cluster's backups
/// where its backup CronJobs send them, the environment's object store; with
/// none, the jobs the gate would hold are named and not checked.
fn backup_gate(project: &Path, ecosystem: &Ecosystem) -> Gate {
    let state = StateDir::of(project).0;
    let ecosystem = ecosystem.clone();
    Box::new(move |plan| {
        let store = ecosystem.environment.backups.as_ref();
        // The object store's client has a runtime of its own: it is made,
        // asked and dropped on a thread of its own, outside the deployment's.
        let stale = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let shelves = Shelves::open(&state, &ecosystem.environment_name, store);
                    stale_before(plan, &ecosystem, &shelves, SystemTime::now())
                })
                .join()
                .expect("the backup gate does not panic")
        })
        .map_err(unsure)?;
        if stale.is_empty() {
            return Ok(());
        }
        if store.is_none() {
            for stale in &stale {
                eprintln!(
                    "note: not checked: {}; berth sees the CronJobs' backups only in an object store (`backups: {{ to: s3://… }}`), and here those `berth backup -e {}` took",
                    said(stale),
                    ecosystem.environment_name
                );
            }
            return Ok(());
        }
        let jobs: Vec<String> = stale
            .iter()
            .map(|s| {
                let namespace =
                    berth_render::namespace_of(&ecosystem, &ecosystem.services[&s.store]);
                format!(
                    "`kubectl create job -n {namespace} --from=cronjob/{0}-backup {0}-backup-now`",
                    s.store
                )
            })
            .collect();
        let stores: Vec<&str> = stale.iter().map(|s| s.store.as_str()).collect();
        Err(refused_for(
            &stale,
            &format!(
                "`berth backup -e {} {}` from here, or {} (its CronJob sends it to the object store)",
                ecosystem.environment_name,
                stores.join(" "),
                jobs.join(", ")
            ),
        ))
    })
}

fn said_plan(plan: &DeployPlan, ecosystem: &Ecosystem) -> String {
    describe_with(plan, &|change| {
        Some(berth_kube::how(
            change,
            ecosystem.services.get(&change.service).map(AsRef::as_ref),
            ecosystem.environment.gateway.kind,
        ))
    })
}

fn said_ended(global: &Global, ended: &Ended) {
    if global.output == Format::Json {
        output::json(&serde_json::json!({
            "number": ended.number,
            "outcome": ended.outcome,
        }));
        return;
    }
    match ended.number {
        None => {
            println!("berth: nothing to deploy: every service already runs what berth.yaml says")
        }
        Some(number) => println!("berth: deployment {number} {}", ended.outcome),
    }
}

fn refusal(refused: Refused) -> Problems {
    match refused {
        Refused::Missing(missing) => missing_problem(&missing),
        Refused::Gated(problems) => problems,
        Refused::Locked(message) | Refused::Other(message) => problem(message),
    }
}

/// The pre-flight's list, all of it in one error.
fn missing_problem(missing: &[Missing]) -> Problems {
    let lines: Vec<String> = missing
        .iter()
        .map(|m| {
            format!(
                "{} (needed by {})\n      {}",
                m.what,
                m.needed_by.join(", "),
                m.help
            )
        })
        .collect();
    Problems::one(
        Problem::new(format!(
            "the objects reference what the cluster does not have; nothing was applied:\n  {}",
            lines.join("\n  ")
        ))
        .help("make what is listed, then deploy again; `berth deploy --dry-run` checks without applying"),
    )
}

/// The plan, the pre-flight and each object's difference from what runs.
async fn dry_run(
    global: &Global,
    environment: &Environment,
    request: &Request,
) -> Result<Exit, Problems> {
    let prepared = prepare(environment, request).await.map_err(problem)?;
    let objects = prepared.objects.to_vec();
    let missing = berth_kube::deploy::preflight(environment, &objects)
        .await
        .map_err(problem)?;
    let mut diffs = Vec::new();
    for object in &objects {
        if let Some(diff) = berth_kube::diff(&environment.kinds, object)
            .await
            .map_err(problem)?
        {
            diffs.push(diff);
        }
    }
    if global.output == Format::Json {
        let missing: Vec<serde_json::Value> = missing
            .iter()
            .map(|m| serde_json::json!({ "missing": m.what, "needed_by": m.needed_by }))
            .collect();
        output::json(
            &serde_json::json!({ "plan": prepared.plan, "missing": missing, "diff": diffs }),
        );
        return Ok(Exit::Success);
    }
    print!("{}", said_plan(&prepared.plan, &request.ecosystem));
    if let Some(Err(refused)) = request.gate.as_ref().map(|gate| gate(&prepared.plan)) {
        // The refusal's lines, one per job held, as the local dry run says them.
        for line in refused.0.iter().flat_map(|p| p.message.lines().skip(1)) {
            println!("  backup first: {}", line.trim());
        }
    }
    for diff in &diffs {
        print!("{diff}");
    }
    if diffs.is_empty() {
        println!("the cluster already has every object as berth.yaml renders it");
    }
    if !missing.is_empty() {
        return Err(missing_problem(&missing));
    }
    Ok(Exit::Success)
}
