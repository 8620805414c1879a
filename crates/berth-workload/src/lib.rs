//! The stand-in workload: a small HTTP service that plays the part of an
//! ecosystem's applications where their real code is not ours to run, as
//! Kubernetes' agnhost does for its own tests. It answers `/healthz`, `/ready` and
//! `/metrics`, and has knobs for how long it takes to start, how often it fails,
//! how slow it is, when it crashes, and which upstreams it waits for. It runs as
//! `berth workload`, and as the `berth-workload` binary, whose start costs half the
//! CPU: benchmarks that start a thousand of them measure the supervisor, not the
//! loading of berth's own binary.

mod metrics;
mod options;
mod refusal;
mod server;
mod upstream;

pub use options::Options;
pub use refusal::Refusal;

/// Serves on a runtime of its own until SIGTERM or SIGINT.
pub fn run(options: Options) -> Result<(), Refusal> {
    if !(0.0..=1.0).contains(&options.failure_rate) {
        return Err(Refusal::FailureRate(options.failure_rate));
    }
    let port = options.port;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Refusal::Runtime)?
        .block_on(server::serve(options))
        .map_err(|error| Refusal::Serve { port, error })
}
