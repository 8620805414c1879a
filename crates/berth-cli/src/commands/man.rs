//! `berth man`: the man page, in roff, from the clap definition itself.

use berth_core::{Problem, Problems};
use clap::CommandFactory;

use super::Exit;
use crate::cli::Cli;

pub fn run() -> Result<Exit, Problems> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Problems::one(Problem::new(format!("cannot write the man page: {e}"))))?;
    Ok(Exit::Success)
}
