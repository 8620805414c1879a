//! `berth completions SHELL`: the shell's completion script, from the clap
//! definition itself, so that it never falls behind the commands.

use berth_core::Problems;
use clap::CommandFactory;

use super::Exit;
use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell) -> Result<Exit, Problems> {
    clap_complete::generate(shell, &mut Cli::command(), "berth", &mut std::io::stdout());
    Ok(Exit::Success)
}
