//! `berth workload`: the stand-in service, for examples and tests.

use berth_core::{Problem, Problems};
use berth_workload::Options;

use super::Exit;

pub fn run(options: &Options) -> Result<Exit, Problems> {
    berth_workload::run(options.clone())
        .map_err(|refusal| Problems::one(Problem::new(refusal.to_string()).help(refusal.help())))?;
    Ok(Exit::Success)
}
