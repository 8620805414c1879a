//! What the workload is told to be.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Options {
    /// The name it answers with (default: the `BERTH_SERVICE` it was started as).
    pub name: String,
    /// The address it listens on: loopback, unless told (in a container, all).
    pub address: std::net::IpAddr,
    pub port: u16,
    /// What `/` and other paths answer with, as a release would.
    pub version: String,
    /// Time spent "booting" before it listens.
    pub start_delay: Duration,
    /// Share of requests (0 to 1) answered with 500, spread evenly.
    pub failure_rate: f64,
    /// Added to every request but the probes and metrics.
    pub latency: Duration,
    /// Exit with status 1 this long after starting.
    pub crash_after: Option<Duration>,
    /// URLs whose `/ready` must answer 2xx before this one is ready.
    pub upstreams: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "workload".to_owned(),
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 8080,
            version: "1.0.0".to_owned(),
            start_delay: Duration::ZERO,
            failure_rate: 0.0,
            latency: Duration::ZERO,
            crash_after: None,
            upstreams: Vec::new(),
        }
    }
}
