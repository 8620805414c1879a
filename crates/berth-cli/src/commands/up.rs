//! `berth up`: the ecosystem as local processes, in the foreground.

use std::io::IsTerminal;
use std::sync::Arc;

use berth_core::plan::{self, Plan};
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_engine::{Event, Failure};
use berth_local::{LocalRuntime, Output, RouteMetrics, Routes};
use indexmap::IndexSet;

use super::{Exit, load};
use crate::cli::Global;

pub fn run(global: &Global, names: &[String]) -> Result<Exit, Problems> {
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problems::one(Problem::new(format!("cannot start the async runtime: {e}"))))?;
    Ok(runtime.block_on(up(&project, ecosystem, &plan)))
}

async fn up(project: &Project, ecosystem: &Ecosystem, plan: &Plan) -> Exit {
    let painter = Painter::new(ecosystem);
    let output: Output = {
        let painter = painter.clone();
        Arc::new(move |service: &str, line: &str| println!("{} {line}", painter.prefix(service)))
    };
    let runtime = match LocalRuntime::new(Arc::new(ecosystem.clone()), project.dir(), output) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot prepare .berth/ beside berth.yaml: {e}");
            return Exit::Failed;
        }
    };
    for command in &plan.pre {
        if !run_command(command, project).await {
            return Exit::Failed;
        }
    }
    let _gateway = match gateway(ecosystem, &runtime).await {
        Ok(gateway) => gateway,
        Err(message) => {
            eprintln!("{message}");
            return Exit::Failed;
        }
    };
    let progress = |event: Event| painter.progress(&event);
    let started = tokio::select! {
        result = berth_engine::up(ecosystem, plan, &runtime, &progress) => Some(result),
        _ = interrupted() => None,
    };
    let outcome = match started {
        Some(Ok(())) => {
            for command in &plan.post {
                run_command(command, project).await;
            }
            let count = plan.services().count();
            println!(
                "berth: {count} service{} up; Ctrl-C stops them",
                if count == 1 { "" } else { "s" }
            );
            interrupted().await;
            Exit::Success
        }
        Some(Err(failure)) => {
            report(&failure);
            Exit::Failed
        }
        None => Exit::Success,
    };
    println!("berth: stopping");
    let services: IndexSet<&str> = plan.services().map(|step| step.service.as_str()).collect();
    berth_engine::down(ecosystem, &services, &runtime, &progress).await;
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
    Ok(Some(AbortOnDrop(
        runtime.gateway(listener, RouteMetrics::default()),
    )))
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
