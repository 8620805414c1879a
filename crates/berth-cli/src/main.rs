//! The `berth` binary: parses the command line and hands each verb to its module.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = commands::run(&cli);
    ExitCode::from(outcome as u8)
}
