//! `berth-workload`: the stand-in workload as a binary of its own, the same as
//! `berth workload` but without loading all of berth to start.

use std::process::ExitCode;

use clap::Parser;

/// Run the stand-in workload: an HTTP service with /healthz, /ready and /metrics
#[derive(Parser)]
#[command(version)]
struct Command {
    #[command(flatten)]
    options: berth_workload::Options,
}

fn main() -> ExitCode {
    match berth_workload::run(Command::parse().options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(refusal) => {
            eprintln!("error: {refusal}\n  help: {}", refusal.help());
            ExitCode::FAILURE
        }
    }
}
