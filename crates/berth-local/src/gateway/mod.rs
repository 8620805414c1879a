//! The gateway: one HTTP port that routes path prefixes to the ready instances of
//! the services that declare them, round robin — the API gateway of the
//! RuneframeOS and OpenPolicy documents, on a laptop. It counts requests, errors
//! and latency per route, and serves them with the router's per-revision counts
//! at `/_berth/metrics`.

mod forwarding;
mod metrics;
mod proxy;
mod routes;

pub use metrics::RouteMetrics;
pub use proxy::serve;
pub use routes::Routes;
