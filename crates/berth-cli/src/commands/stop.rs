//! `berth stop SERVICE`: stop one service of a running berth.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::{Session, failed};
use crate::cli::Global;

pub fn run(global: &Global, service: &str) -> Result<Exit, Problems> {
    let session = Session::of(global)?;
    failed(session.request(&Request::Stop {
        service: service.to_owned(),
    })?)?;
    println!("stopped {service}");
    Ok(Exit::Success)
}
