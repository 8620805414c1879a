//! `berth up`: the ecosystem as local processes or containers, run by a berth in
//! the foreground or, with `-d`, in the background.

use std::io::IsTerminal;
use std::sync::Arc;

use berth_core::plan::{self, Plan};
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_engine::{Event, Failure};
use berth_local::{Notice, Output, Session};

use super::session::{Found, Session as Running};
use super::{Exit, detached, hosted, load, ui};
use crate::cli::{Global, UiArgs};

/// How `berth up` runs.
#[derive(Default)]
pub struct Options<'a> {
    pub detach: bool,
    /// berth's own lines only.
    pub quiet: bool,
    /// Where a detached berth writes its own output.
    pub log: Option<&'a std::path::Path>,
    /// The dashboard beside the run.
    pub ui: Option<UiArgs>,
}

pub fn run(global: &Global, names: &[String], options: &Options) -> Result<Exit, Problems> {
    let detach = options.detach;
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    hosted::check(ecosystem)?;
    let selection = plan::select(ecosystem, names)?;
    let plan = plan::plan(ecosystem, &selection);
    let session = Running::in_dir(project.dir());
    match session.found() {
        // As `docker compose up -d` does: what runs takes the file's changes.
        Found::Running(_) if detach => {
            return super::deploy::send(
                global,
                &session,
                berth_local::Ask {
                    services: names.to_vec(),
                    ..berth_local::Ask::default()
                },
            );
        }
        Found::Running(pid) => {
            return Err(Problems::one(
                Problem::new(format!("berth is already running here (pid {pid})"))
                    .help("apply changes with `berth up -d` or `berth deploy`, see it with `berth status`, or stop it with `berth down`"),
            ));
        }
        Found::Gone(pid) => println!(
            "berth: the berth that ran here before (pid {pid}) ended without stopping cleanly; its services went with it"
        ),
        Found::Nothing => {}
    }
    if detach {
        return detached::start(&project, global, names, &session);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problems::one(Problem::new(format!("cannot start the async runtime: {e}"))))?;
    runtime.block_on(async {
        let dashboard = match &options.ui {
            Some(args) => Some(ui::open(&project, ecosystem, plan.clone(), args).await?),
            None => None,
        };
        let up = up(&project, ecosystem, &plan, options.quiet, options.log);
        Ok(match dashboard {
            None => up.await,
            // The dashboard goes when the run ends; a dashboard that fails says so
            // and leaves the run alone.
            Some(dashboard) => {
                tokio::pin!(up);
                tokio::select! {
                    exit = &mut up => exit,
                    served = dashboard => {
                        if let Err(e) = served {
                            eprintln!("error: the dashboard stopped: {e}");
                        }
                        up.await
                    }
                }
            }
        })
    })
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
    run(
        global,
        &[deployment.to_owned()],
        &Options {
            detach,
            ..Options::default()
        },
    )
}

async fn up(
    project: &Project,
    ecosystem: &Ecosystem,
    plan: &Plan,
    quiet: bool,
    log: Option<&std::path::Path>,
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
    let file = std::path::absolute(&project.path).unwrap_or_else(|_| project.path.clone());
    let notice = |notice: Notice| match notice {
        Notice::Event(event) => painter.progress(event),
        Notice::Line(line) => println!("{line}"),
        Notice::Error(message) => eprintln!("error: {message}"),
        Notice::Failed(failure) => report(failure),
    };
    let instances = match hosted::instances(project.dir(), ecosystem).await {
        Ok(instances) => instances,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Failed;
        }
    };
    let session = Session {
        instances,
        file: &file,
        ecosystem,
        plan,
        output,
        log,
        notice: &notice,
    };
    if session.run().await {
        Exit::Success
    } else {
        Exit::Failed
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
