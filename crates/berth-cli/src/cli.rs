//! The command line, as clap parses it. Documented exit codes: 0 success, 1 a
//! check failed, 2 invalid input (berth.yaml, arguments, or a refused action).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Describe a multi-service ecosystem once in berth.yaml; check it, plan it, run it.",
    after_help = "Exit codes: 0 success, 1 a check or a deployment failed, 2 invalid input.",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Default)]
pub struct Global {
    /// berth.yaml to use (default: ./berth.yaml or the nearest parent's), before
    /// the command as with docker compose
    #[arg(short = 'f', value_name = "FILE")]
    file_first: Option<PathBuf>,
    /// berth.yaml to use, anywhere on the line (`logs -f` is `--follow`, as in
    /// kubectl and compose)
    #[arg(long = "file", global = true, value_name = "FILE")]
    file_anywhere: Option<PathBuf>,
    /// Environment to apply (default: the file's first environment)
    #[arg(short, long = "env", global = true, value_name = "ENV")]
    pub environment: Option<String>,
    /// Output format
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// kubeconfig context for a `runtime: kubernetes` environment (default: the
    /// environment's `context:`, else the kubeconfig's current one)
    #[arg(long, global = true, value_name = "CONTEXT")]
    pub context: Option<String>,
}

impl Global {
    /// The berth.yaml given with `-f` or `--file`, if one was.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file_anywhere.as_deref().or(self.file_first.as_deref())
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check services against the ecosystem's standards; exit 1 on failures
    Check {
        /// List the checks instead of running them
        #[arg(long)]
        list: bool,
    },
    /// Show the deployment plan: phases, parallel waves, gates, critical chain
    Plan {
        /// Deployments or services to plan (with what they depend on); default all
        names: Vec<String>,
    },
    /// Run the ecosystem on this machine: each service a supervised process, started
    /// in plan order once what it waits for holds; Ctrl-C stops them all
    Up {
        /// Deployments or services to run (with what they depend on); default all
        names: Vec<String>,
        /// Run in the background; `berth status`, `logs` and `down` reach it
        #[arg(short, long)]
        detach: bool,
        /// Show berth's own lines only, not services' output (which stays in
        /// .berth/logs); what a detached berth does
        #[arg(long)]
        quiet: bool,
        /// Where a detached berth writes its own output, once it knows it is the
        /// only berth here
        #[arg(long, hide = true, value_name = "FILE")]
        log_to: Option<std::path::PathBuf>,
        /// Serve the dashboard beside the run, on 127.0.0.1 (`berth ui` for a
        /// detached berth)
        #[arg(long, conflicts_with = "detach")]
        ui: bool,
        /// The dashboard's port [default: 7420, or the next free one]
        #[arg(long, value_name = "PORT", requires = "ui")]
        ui_port: Option<u16>,
    },
    /// Run a named deployment locally, with its pre and post commands
    Run {
        deployment: String,
        /// Run in the background
        #[arg(short, long)]
        detach: bool,
    },
    /// Serve the dashboard: the graph with live states, logs, deployments,
    /// history, DORA, the check report and backups
    Ui(UiArgs),
    /// Show each running instance: pid, state, health, restarts, port, uptime
    Status {
        /// Keep watching: print the table again whenever it changes
        #[arg(short, long)]
        watch: bool,
    },
    /// Forward a local port to a ready pod of a service on a Kubernetes
    /// environment, until interrupted
    PortForward {
        service: String,
        /// `[LOCAL:]PORT`: the service's port by number or name (default its
        /// main port); LOCAL defaults to the same, and `:PORT` picks a free one
        #[arg(value_name = "[LOCAL:]PORT")]
        ports: Option<String>,
    },
    /// Show services' logs, merged in time order
    Logs {
        /// Services to show; default all
        services: Vec<String>,
        /// Keep following new lines
        #[arg(short, long)]
        follow: bool,
        /// Only lines newer than this, such as 10m
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// Only the last N lines
        #[arg(short = 'n', long, value_name = "N")]
        tail: Option<usize>,
        /// Show each line's time
        #[arg(short, long)]
        timestamps: bool,
    },
    /// Stop everything a running `berth up` started, dependents first
    Down {
        /// Also delete the data stores' data in .berth/data
        #[arg(long)]
        volumes: bool,
    },
    /// Stop services of a running `berth up`
    Stop {
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Start stopped services of a running `berth up` again
    Start {
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Restart services of a running `berth up`, with berth.yaml's current settings
    Restart {
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Deploy berth.yaml as it is now: only what changed, each service under its
    /// rollout strategy, gated and recorded
    Deploy {
        /// Services to deploy; default every one that changed
        services: Vec<String>,
        /// Print the plan — what changes, in what order, how — and do nothing
        #[arg(long)]
        dry_run: bool,
        /// Fail at once when another deployment of the environment is under way
        #[arg(long)]
        no_wait: bool,
        /// Run jobs even where a data store they depend on has no backup
        /// within its `backup.rpo`
        #[arg(long)]
        skip_backup_check: bool,
        /// On a cluster: delete berth's objects that berth.yaml no longer has
        /// (they are listed either way)
        #[arg(long)]
        prune: bool,
    },
    /// Deploy a stored revision again: the previous one, or `--to N`
    Rollback {
        /// Services to roll back; default every one that differs
        services: Vec<String>,
        /// The deployment to return to: its number, or its revision (a prefix will
        /// do), as `berth history` lists them
        #[arg(long, value_name = "DEPLOYMENT")]
        to: Option<String>,
        /// Why, kept in the history
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a paused deployment go on (a canary step, a manual blue-green switch)
    Promote,
    /// Stop the deployment under way and restore the previous revision
    Abort,
    /// List an environment's deployments, or show one
    History {
        #[command(subcommand)]
        show: Option<HistoryShow>,
    },
    /// DORA metrics from the environment's history
    Dora {
        /// How far back, such as 30d
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
        since: std::time::Duration,
    },
    /// Write the files other tools read, generated from berth.yaml
    Render {
        /// What to render
        #[arg(long, value_enum, default_value_t = Target::Compose)]
        to: Target,
        /// Directory to write into (default: print to stdout); only files whose
        /// content changed are written
        #[arg(short = 'd', long = "dir", value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
        /// With --dir: list each file written
        #[arg(short, long)]
        verbose: bool,
        /// The image a service runs in what is rendered, such as the one CI has
        /// just built (repeatable; compose and kubernetes)
        #[arg(long = "image", value_name = "SERVICE=IMAGE")]
        images: Vec<String>,
    },
    /// Print the dependency graph
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the JSON Schema of berth.yaml
    Schema,
    /// Write a commented starter berth.yaml
    Init {
        /// The ecosystem's name (default: the directory's name)
        #[arg(long)]
        name: Option<String>,
    },
    /// Back up data stores of a running environment (default: every one that runs)
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        action: Option<BackupAction>,
        /// Data stores to back up
        services: Vec<String>,
    },
    /// Restore a data store from a backup (default: its newest), then check it
    Restore {
        /// The data store to restore
        service: String,
        /// The backup to restore, as `berth backup list` names it
        #[arg(long, value_name = "BACKUP")]
        from: Option<String>,
        /// Replace what the store holds without asking
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Write a berth.yaml from what you keep today (never over an existing file)
    Import {
        #[command(subcommand)]
        from: ImportSource,
    },
    /// Run the stand-in workload: an HTTP service with /healthz, /ready and /metrics
    Workload(berth_workload::Options),
    /// Print a shell's completion script: `berth completions bash > /etc/bash_completion.d/berth`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print berth's man page (roff): `berth man | man -l -`
    Man,
}

#[derive(Subcommand)]
pub enum HistoryShow {
    /// One deployment: what it changed, its timeline and evidence
    Show {
        /// Its number, or its revision (a prefix will do)
        #[arg(value_name = "DEPLOYMENT")]
        deployment: String,
        /// Compare its settings with another deployment's instead
        #[arg(long, value_name = "DEPLOYMENT")]
        diff: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ImportSource {
    /// Docker Compose files, merged in order as `docker compose -f A -f B` merges them
    Compose {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The ecosystem's name (default: the files' `name:`, else the directory's)
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum BackupAction {
    /// Each store's backups and its last drill
    List,
    /// Restore the newest backup into a store of its own, check it, and record
    /// the RTO and RPO achieved
    Drill {
        /// Data stores to drill (default: all)
        services: Vec<String>,
    },
}

/// Where the dashboard listens, and the token that lets a request act.
#[derive(Debug, clap::Args)]
pub struct UiArgs {
    /// The port [default: 7420, or the next free one]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The address to listen on; beyond loopback every request needs the token
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Read the token from this file instead of making one
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
}

impl Command {
    /// Whether the command keeps running: it supervises or serves.
    pub fn runs_long(&self) -> bool {
        matches!(
            self,
            Command::Up { .. }
                | Command::Run { .. }
                | Command::Workload(_)
                | Command::Ui(_)
                | Command::PortForward { .. }
        )
    }

    /// Whether the command has a JSON form of its output (`-o json`).
    pub fn speaks_json(&self) -> bool {
        matches!(
            self,
            Command::Check { .. }
                | Command::Plan { .. }
                | Command::Status { .. }
                | Command::Logs { .. }
                | Command::Deploy { .. }
                | Command::Rollback { .. }
                | Command::History { .. }
                | Command::Dora { .. }
                | Command::Schema
                | Command::Import { .. }
                | Command::Backup {
                    action: Some(BackupAction::List),
                    ..
                }
        )
    }

    /// Whether the command only prints: it does not run, supervise or talk to
    /// processes.
    pub fn only_prints(&self) -> bool {
        matches!(
            self,
            Command::Check { .. }
                | Command::Plan { .. }
                | Command::Status { .. }
                | Command::Deploy { dry_run: true, .. }
                | Command::Logs { .. }
                | Command::Render { .. }
                | Command::Graph { .. }
                | Command::History { .. }
                | Command::Dora { .. }
                | Command::Schema
                | Command::Completions { .. }
                | Command::Man
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Docker Compose: compose.data.yaml and compose.services.yaml
    Compose,
    /// Kubernetes objects in one multi-document file, kubernetes.yaml
    Kubernetes,
    /// Kustomize: base/ and overlays/ENV/ for every Kubernetes environment
    Kustomize,
    /// Prometheus alert rules and scrape configuration, and a Grafana dashboard
    Monitoring,
    /// A GitHub Actions workflow: check, build images, deploy to staging, then production on tags
    Ci,
    /// Every target above, each in a folder named after it
    All,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}
