//! berth's traffic on this machine: each service's declared port is a listener of
//! berth's that spreads requests over the service's ready instances — by weight
//! between revisions during a canary or a blue-green switch — and counts
//! requests, errors and latency per revision for analysis. Peers reach a service
//! through it, so a canary takes east-west traffic as well as the gateway's.

mod listener;
mod router;
mod upstream;

pub use listener::{listen_http, listen_tcp};
pub use router::{Pick, Router};
pub use upstream::{Unsent, Upstreams};
