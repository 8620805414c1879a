//! `berth workload`: the stand-in service, for examples and tests.

use berth_core::{Problem, Problems};
use berth_workload::Options;

use super::Exit;
use crate::cli::WorkloadArgs;

pub fn run(args: &WorkloadArgs) -> Result<Exit, Problems> {
    if !(0.0..=1.0).contains(&args.failure_rate) {
        return Err(Problems::one(
            Problem::new(format!(
                "--failure-rate {} is not a share",
                args.failure_rate
            ))
            .help("give a number from 0 (never fail) to 1 (always fail)"),
        ));
    }
    let options = Options {
        name: args.name.clone(),
        address: args.address,
        port: args.port,
        version: args.release.clone(),
        start_delay: args.start_delay,
        failure_rate: args.failure_rate,
        latency: args.latency,
        crash_after: args.crash_after,
        upstreams: args.upstreams.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problems::one(Problem::new(format!("cannot start the async runtime: {e}"))))?;
    runtime
        .block_on(berth_workload::serve(options))
        .map_err(|e| {
            Problems::one(
                Problem::new(format!(
                    "the workload cannot serve on port {}: {e}",
                    args.port
                ))
                .help("pick a free port with --port or PORT"),
            )
        })?;
    Ok(Exit::Success)
}
