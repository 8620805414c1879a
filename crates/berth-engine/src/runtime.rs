//! What every runtime offers the engine.

use std::fmt;

use berth_core::model::Condition;

/// A runtime that can run the services of one ecosystem.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    /// Starts every instance of `service`.
    async fn start(&self, service: &str) -> Result<(), Failure>;
    /// Returns once `service` meets `condition`, or fails when it never will (a
    /// job that failed, a service that gave up restarting). A service that is
    /// restarting is waited for, not failed.
    async fn reached(&self, service: &str, condition: &Condition) -> Result<(), Failure>;
    /// Whether `service` meets `condition` right now.
    fn holds(&self, service: &str, condition: &Condition) -> bool;
    /// Stops every instance of `service`: politely, then by force.
    async fn stop(&self, service: &str);
}

/// Why a deployment cannot go on, with the service's last output to show.
#[derive(Debug, Clone)]
pub struct Failure {
    pub service: String,
    pub message: String,
    pub last_lines: Vec<String>,
}

impl Failure {
    pub fn new(service: &str, message: impl Into<String>) -> Self {
        Failure {
            service: service.to_owned(),
            message: message.into(),
            last_lines: Vec::new(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.service, self.message)
    }
}

impl std::error::Error for Failure {}
