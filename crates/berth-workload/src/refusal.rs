//! Why the workload did not serve, and what to do about it.

use std::fmt;

#[derive(Debug)]
pub enum Refusal {
    FailureRate(f64),
    Runtime(std::io::Error),
    Serve { port: u16, error: std::io::Error },
}

impl Refusal {
    pub fn help(&self) -> &'static str {
        match self {
            Refusal::FailureRate(_) => "give a number from 0 (never fail) to 1 (always fail)",
            Refusal::Runtime(_) => "the machine is out of threads or descriptors; try again",
            Refusal::Serve { .. } => "pick a free port with --port or PORT",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::FailureRate(rate) => write!(f, "--failure-rate {rate} is not a share"),
            Refusal::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            Refusal::Serve { port, error } => {
                write!(f, "the workload cannot serve on port {port}: {error}")
            }
        }
    }
}
