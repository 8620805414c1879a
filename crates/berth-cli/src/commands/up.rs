//! `berth up`: the ecosystem as local processes, in the foreground.

use std::io::IsTerminal;
use std::pin::pin;
use std::sync::Arc;

use tokio::sync::watch;

use berth_core::plan::{self, Plan};
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_engine::{Event, Failure, Target};
use berth_local::{Deployer, LocalRuntime, Output, Progress, RouteMetrics, Routes};
use indexmap::IndexSet;

use super::session::{Session, State};
use super::{Exit, detached, load};
use crate::cli::Global;

pub fn run(global: &Global, names: &[String], detach: bool, quiet: bool) -> Result<Exit, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    if ecosystem.environment.runtime != berth_core::model::Runtime::Local {
        return Err(Problems::one(
            Problem::new(format!(
                "environment `{}` runs on {}, and `berth up` runs the local runtime",
                ecosystem.environment_name, ecosystem.environment.runtime
            ))
            .help("pick a local environment with `-e`"),
        ));
    }
    let selection = plan::select(ecosystem, names)?;
    let plan = plan::plan(ecosystem, &selection);
    let session = Session::in_dir(project.dir());
    match session.recorded() {
        // As `docker compose up -d` does: what runs takes the file's changes.
        Some((_, true)) if detach => {
            return super::deploy::send(
                global,
                &session,
                berth_local::Ask {
                    services: names.to_vec(),
                    ..berth_local::Ask::default()
                },
            );
        }
        Some((state, true)) => {
            return Err(Problems::one(
                Problem::new(format!("berth is already running here (pid {})", state.pid))
                    .help("apply changes with `berth up -d` or `berth deploy`, see it with `berth status`, or stop it with `berth down`"),
            ));
        }
        Some((state, false)) => {
            println!(
                "berth: the berth that ran here before (pid {}) ended without stopping cleanly; its services went with it",
                state.pid
            );
            session.forget();
        }
        None => {}
    }
    if detach {
        return detached::start(&project, global, names, &session);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problems::one(Problem::new(format!("cannot start the async runtime: {e}"))))?;
    Ok(runtime.block_on(up(&project, ecosystem, &plan, &session, quiet)))
}

/// `berth run NAME`: `up` for a named deployment, which must be one.
pub fn run_deployment(global: &Global, deployment: &str, detach: bool) -> Result<Exit, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    if !ecosystem.deployments.contains_key(deployment) {
        let help = berth_core::problem::suggestion(
            deployment,
            ecosystem.deployments.keys().map(String::as_str),
            || {
                "`berth plan` lists what there is; `berth up SERVICE` runs a single service"
                    .to_owned()
            },
        );
        return Err(Problems::one(
            Problem::new(format!("there is no deployment `{deployment}`")).help(help),
        ));
    }
    run(global, &[deployment.to_owned()], detach, false)
}

/// What ended the wait.
enum Ended {
    Interrupted,
    DownRequested,
}

async fn up(
    project: &Project,
    ecosystem: &Ecosystem,
    plan: &Plan,
    session: &Session,
    quiet: bool,
) -> Exit {
    let painter = Painter::new(ecosystem);
    let output: Output = {
        let painter = painter.clone();
        Arc::new(move |service: &str, lines: &str| {
            if quiet && !lines.starts_with("berth:") {
                return;
            }
            let prefix = painter.prefix(service);
            let text: String = lines
                .lines()
                .map(|line| format!("{prefix} {line}\n"))
                .collect();
            // One write for the whole batch keeps up with a service that writes fast.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
        })
    };
    let runtime = match LocalRuntime::new(project.dir(), output) {
        Ok(runtime) => Arc::new(runtime),
        Err(e) => {
            eprintln!("error: cannot prepare .berth/ beside berth.yaml: {e}");
            return Exit::Failed;
        }
    };
    let file = std::path::absolute(&project.path).unwrap_or_else(|_| project.path.clone());
    let deployer = match Deployer::new(runtime.clone(), &file, &ecosystem.environment_name) {
        Ok(deployer) => Arc::new(deployer),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let state = State {
        pid: std::process::id(),
        environment: ecosystem.environment_name.clone(),
    };
    if let Err(e) = session.record(&state) {
        eprintln!("error: cannot write to {}: {e}", session.dir.display());
        return Exit::Failed;
    }
    let target = Target::of(Arc::new(ecosystem.clone()));
    let outcome = run_until_stopped(project, &target, plan, session, &deployer, &painter).await;
    session.forget();
    outcome
}

async fn run_until_stopped(
    project: &Project,
    target: &Target,
    plan: &Plan,
    session: &Session,
    deployer: &Arc<Deployer>,
    painter: &Painter,
) -> Exit {
    let ecosystem = target.ecosystem.as_ref();
    let runtime = deployer.runtime.as_ref();
    for command in &plan.pre {
        if !run_command(command, project).await {
            return Exit::Failed;
        }
    }
    let _gateway = match gateway(ecosystem, runtime).await {
        Ok(gateway) => gateway,
        Err(message) => {
            eprintln!("{message}");
            return Exit::Failed;
        }
    };
    let (progress_sender, progress) = watch::channel(Progress::Starting);
    let socket = session.socket();
    let mut control = pin!(async {
        if let Err(e) = berth_local::serve(&socket, deployer.clone(), progress).await {
            eprintln!(
                "berth: no control socket ({e}); `berth status` and `berth down` cannot reach this berth"
            );
            std::future::pending::<()>().await;
        }
    });
    let show = |event: Event| painter.progress(&event);
    let started = tokio::select! {
        result = deployer.up(target, plan, &show) => Ok(result),
        _ = interrupted() => Err(Ended::Interrupted),
        _ = &mut control => Err(Ended::DownRequested),
    };
    let outcome = match started {
        Ok(Ok(())) => {
            for command in &plan.post {
                run_command(command, project).await;
            }
            progress_sender.send_replace(Progress::Up);
            let count = plan.services().count();
            println!(
                "berth: {count} service{} up; Ctrl-C stops them",
                if count == 1 { "" } else { "s" }
            );
            tokio::select! {
                _ = interrupted() => {}
                _ = &mut control => {}
            }
            Exit::Success
        }
        Ok(Err(failure)) => {
            progress_sender.send_replace(Progress::Failed(failure.to_string()));
            report(&failure);
            Exit::Failed
        }
        Err(Ended::Interrupted | Ended::DownRequested) => Exit::Success,
    };
    progress_sender.send_replace(Progress::Stopping);
    println!("berth: stopping");
    let services: IndexSet<&str> = ecosystem.services.keys().map(String::as_str).collect();
    berth_engine::down(target, &services, runtime, &show).await;
    outcome
}

/// Starts the gateway when any service has routes; it stops when dropped.
async fn gateway(
    ecosystem: &Ecosystem,
    runtime: &LocalRuntime,
) -> Result<Option<AbortOnDrop>, String> {
    let routes = Routes::of(ecosystem);
    if routes.is_empty() {
        return Ok(None);
    }
    let port = ecosystem.environment.gateway.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.0))
        .await
        .map_err(|e| {
            format!(
                "error: the gateway cannot listen on port {port}: {e}\n  help: set `gateway: {{ port: PORT }}` on environment `{}`",
                ecosystem.environment_name
            )
        })?;
    println!(
        "berth: gateway on http://127.0.0.1:{port} ({})",
        routes.describe()
    );
    Ok(Some(AbortOnDrop(runtime.gateway(
        listener,
        routes,
        RouteMetrics::default(),
    ))))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ctrl-C, or SIGTERM from whoever runs berth.
async fn interrupted() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM can be watched");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

async fn run_command(command: &str, project: &Project) -> bool {
    println!("berth: running {command}");
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(project.dir())
        .status()
        .await;
    match status {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("error: `{command}` failed with {status}");
            false
        }
        Err(e) => {
            eprintln!("error: cannot run `{command}`: {e}");
            false
        }
    }
}

fn report(failure: &Failure) {
    eprintln!("error: {failure}");
    if !failure.last_lines.is_empty() {
        eprintln!("  last lines of {}:", failure.service);
        for line in &failure.last_lines {
            eprintln!("  | {line}");
        }
    }
}

/// The width of an output label: instances of a replicated service are `name.N`.
fn label_width(name: &str, replicas: u32) -> usize {
    match replicas {
        0 | 1 => name.len(),
        n => name.len() + 1 + (n - 1).to_string().len(),
    }
}

/// Prefixes and colours, one colour per service, when stdout is a terminal.
#[derive(Clone)]
struct Painter {
    width: usize,
    colours: Arc<Vec<(String, u8)>>,
    enabled: bool,
}

impl Painter {
    fn new(ecosystem: &Ecosystem) -> Self {
        const PALETTE: [u8; 6] = [36, 33, 32, 35, 34, 31];
        Painter {
            width: ecosystem
                .services
                .iter()
                .map(|(name, service)| label_width(name, service.replicas()))
                .max()
                .unwrap_or(0),
            colours: Arc::new(
                ecosystem
                    .services
                    .keys()
                    .enumerate()
                    .map(|(i, name)| (name.clone(), PALETTE[i % PALETTE.len()]))
                    .collect(),
            ),
            enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn prefix(&self, service: &str) -> String {
        let text = format!("{service:<width$} |", width = self.width);
        let name = service.split('.').next().unwrap_or(service);
        match self.colours.iter().find(|(known, _)| known == name) {
            Some((_, colour)) if self.enabled => format!("\x1b[{colour}m{text}\x1b[0m"),
            _ => text,
        }
    }

    fn progress(&self, event: &Event) {
        let line = match event {
            Event::PhaseStarted(phase) => format!("berth: phase {phase}"),
            Event::Started(service) => format!("berth: {service} started"),
            Event::Settled { service, condition } => format!("berth: {service} {condition}"),
            Event::PhaseDone(phase) => format!("berth: phase {phase} done"),
            Event::Stopping(_) => return,
            Event::Stopped(service) => format!("berth: {service} stopped"),
        };
        println!("{line}");
    }
}
