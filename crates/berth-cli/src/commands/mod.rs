//! One module per verb. Each takes parsed arguments, calls the core, and presents
//! the result; none holds logic the core could test without a terminal.

mod backup;
mod check;
mod cluster;
mod completions;
mod deploy;
mod deploy_on_cluster;
mod detached;
mod down;
mod env_files;
mod graph;
mod history;
mod hosted;
mod import;
mod init;
mod logs;
mod man;
pub mod menu;
mod new_file;
mod plan;
mod port_forward;
mod promote;
mod render;
mod restart;
mod schema;
mod session;
mod start;
mod status;
mod stop;
mod ui;
mod up;
mod way_back;
mod workload;

use berth_core::{Ecosystem, Problem, Problems, Project};

use crate::cli::{Cli, Command, Format, Global, HistoryShow};
use crate::output;

/// The process exit status, as documented in `berth --help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// A check failed, or a deployment did.
    Failed = 1,
    Invalid = 2,
}

pub fn run(cli: &Cli) -> Exit {
    if cli.global.output == Format::Json && !cli.command.speaks_json() {
        let problem = Problem::new("this command has no JSON output")
            .help("`-o json` is for check, plan, status, logs, deploy, rollback, history, dora and import; leave it out here");
        output::problems(&Problems::one(problem), Format::Json);
        return Exit::Invalid;
    }
    let result = match &cli.command {
        Command::Check { list } => check::run(&cli.global, *list),
        Command::Plan { names } => plan::run(&cli.global, names),
        Command::Up {
            names,
            detach,
            quiet,
            log_to,
            ui,
            ui_port,
        } => up::run(
            &cli.global,
            names,
            &up::Options {
                detach: *detach,
                quiet: *quiet,
                log: log_to.as_deref(),
                ui: ui.then(|| crate::cli::UiArgs {
                    port: *ui_port,
                    bind: std::net::Ipv4Addr::LOCALHOST.into(),
                    token_file: None,
                }),
            },
        ),
        Command::Ui(args) => ui::run(&cli.global, args),
        Command::Run { deployment, detach } => up::run_deployment(&cli.global, deployment, *detach),
        Command::Status { watch } => status::run(&cli.global, *watch),
        Command::PortForward { service, ports } => {
            port_forward::run(&cli.global, service, ports.as_deref())
        }
        Command::Logs {
            services,
            follow,
            since,
            tail,
            timestamps,
        } => logs::run(
            &cli.global,
            services,
            &logs::Shown {
                follow: *follow,
                since: *since,
                tail: *tail,
                timestamps: *timestamps,
            },
        ),
        Command::Down { volumes } => down::run(&cli.global, *volumes),
        Command::Stop { services } => stop::run(&cli.global, services),
        Command::Start { services } => start::run(&cli.global, services),
        Command::Restart { services } => restart::run(&cli.global, services),
        Command::Deploy {
            services,
            dry_run,
            no_wait,
            skip_backup_check,
            prune,
        } => deploy::run(
            &cli.global,
            services,
            deploy::Options {
                dry_run: *dry_run,
                no_wait: *no_wait,
                skip_backup_check: *skip_backup_check,
                prune: *prune,
            },
        ),
        Command::Rollback {
            services,
            to,
            reason,
        } => deploy::rollback(&cli.global, to.as_deref(), services, reason.clone()),
        Command::Promote => promote::promote(&cli.global),
        Command::Abort => promote::abort(&cli.global),
        Command::History { show: None } => history::list(&cli.global),
        Command::History {
            show: Some(HistoryShow::Show { deployment, diff }),
        } => history::show(&cli.global, deployment, diff.as_deref()),
        Command::Dora { since } => history::dora(&cli.global, *since),
        Command::Render {
            to,
            dir,
            verbose,
            images,
        } => render::run(&cli.global, *to, dir.as_deref(), *verbose, images),
        Command::Graph { format } => graph::run(&cli.global, *format),
        Command::Schema => schema::run(),
        Command::Init { name } => init::run(&cli.global, name.as_deref()),
        Command::Import { from } => import::run(&cli.global, from),
        Command::Backup { action, services } => backup::run(&cli.global, action.as_ref(), services),
        Command::Restore { service, from, yes } => {
            backup::restore(&cli.global, service, from.as_deref(), *yes)
        }
        Command::Workload(args) => workload::run(args),
        Command::Completions { shell } => completions::run(*shell),
        Command::Man => man::run(),
    };
    result.unwrap_or_else(|problems| {
        output::problems(&problems, cli.global.output);
        Exit::Invalid
    })
}

/// Finds and loads berth.yaml as `-f` or the working directory says.
fn load(global: &Global) -> Result<Project, Problems> {
    let path = match global.file() {
        Some(path) => path.to_path_buf(),
        None => {
            let cwd = std::env::current_dir().map_err(|e| {
                Problems::one(Problem::new(format!(
                    "cannot read the working directory: {e}"
                )))
            })?;
            let found = berth_core::find(&cwd).ok_or_else(|| {
                Problems::one(
                    Problem::new(format!(
                        "no {} in {} or any parent directory",
                        berth_core::load::FILE_NAME,
                        cwd.display()
                    ))
                    .help("run `berth init` to write one, or point at one with `-f FILE`"),
                )
            })?;
            // Name it as the user would type it from here, as cargo does.
            found.strip_prefix(&cwd).map(Into::into).unwrap_or(found)
        }
    };
    berth_core::load_path(&path)
}

/// The loaded project and its ecosystem in the chosen environment.
fn ecosystem<T>(
    global: &Global,
    with: impl FnOnce(&Project, &Ecosystem) -> Result<T, Problems>,
) -> Result<T, Problems> {
    let project = load(global)?;
    let ecosystem = project.ecosystem(global.environment.as_deref())?;
    with(&project, ecosystem)
}
