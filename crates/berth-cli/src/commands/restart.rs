//! `berth restart SERVICE`: restart one service of a running berth.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::ask;
use crate::cli::Global;

pub fn run(global: &Global, service: &str) -> Result<Exit, Problems> {
    let request = Request::Restart {
        service: service.to_owned(),
    };
    ask(global, &request, &format!("restarted {service}"))
}
