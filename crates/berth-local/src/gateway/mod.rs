//! The gateway: one HTTP port that routes path prefixes to the ready instances of
//! the services that declare them, round robin — the API gateway of the
//! RuneframeOS and OpenPolicy documents, on a laptop. It counts requests, errors
//! and latency per route, which canary analysis reads.

mod metrics;
mod proxy;
mod routes;

pub use metrics::{RouteMetrics, RouteStats};
pub use proxy::serve;
pub use routes::Routes;
