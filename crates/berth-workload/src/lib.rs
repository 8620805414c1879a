//! The stand-in workload: a small HTTP service that plays the part of an
//! ecosystem's applications where their real code is not ours to run, as
//! Kubernetes' agnhost does for its own tests. It answers `/healthz`, `/ready` and
//! `/metrics`, and has knobs for how long it takes to start, how often it fails,
//! how slow it is, when it crashes, and which upstreams it waits for.

mod metrics;
mod options;
mod server;
mod upstream;

pub use options::Options;
pub use server::serve;
