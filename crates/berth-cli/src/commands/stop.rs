//! `berth stop SERVICE...`: stop services of a running berth.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::ask_each;
use crate::cli::Global;

pub fn run(global: &Global, services: &[String]) -> Result<Exit, Problems> {
    ask_each(
        global,
        services,
        |service| Request::Stop { service },
        "stopped",
    )
}
