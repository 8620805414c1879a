//! What the workload is told to be: one command line for `berth workload` and
//! the `berth-workload` binary.

use std::time::Duration;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Name it answers with
    #[arg(long, env = "BERTH_SERVICE", default_value = "workload")]
    pub name: String,
    /// Address to listen on; 0.0.0.0 in a container
    #[arg(long, env = "WORKLOAD_ADDRESS", default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
    /// Port to listen on
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Version it reports, as a release would
    #[arg(
        long = "release",
        id = "release",
        value_name = "VERSION",
        default_value = "1.0.0"
    )]
    pub version: String,
    /// Time to "boot" before listening, such as 2s
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub start_delay: Duration,
    /// Share of requests answered with 500, from 0 to 1, spread evenly
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Latency added to each request but the probes and metrics, such as 50ms
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub latency: Duration,
    /// Exit with status 1 after this long
    #[arg(long, value_parser = humantime::parse_duration)]
    pub crash_after: Option<Duration>,
    /// URL of an upstream whose /ready must answer before this one is ready
    /// (repeatable, or comma-separated in UPSTREAMS)
    #[arg(long = "upstream", env = "UPSTREAMS", value_delimiter = ',')]
    pub upstreams: Vec<String>,
}
