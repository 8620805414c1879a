//! The `berth` binary: parses the command line and hands each verb to its module.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `berth` alone in a terminal opens the menu; anywhere else it prints help.
    let outcome = if std::env::args_os().len() == 1 && commands::menu::available() {
        commands::menu::run()
    } else {
        commands::run(&cli::Cli::parse())
    };
    ExitCode::from(outcome as u8)
}
