//! `berth restart SERVICE...`: restart services of a running berth.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::ask;
use crate::cli::Global;

pub fn run(global: &Global, services: &[String]) -> Result<Exit, Problems> {
    for service in services {
        let request = Request::Restart {
            service: service.clone(),
        };
        ask(global, &request, &format!("restarted {service}"))?;
    }
    Ok(Exit::Success)
}
