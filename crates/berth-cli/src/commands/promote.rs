//! `berth promote` and `berth abort`: a paused or running deployment goes on, or
//! stops and restores the previous revision.

use berth_core::Problems;
use berth_local::Request;

use super::Exit;
use super::session::ask;
use crate::cli::Global;

pub fn promote(global: &Global) -> Result<Exit, Problems> {
    ask(global, &Request::Promote, "promoted: a paused step goes on")
}

pub fn abort(global: &Global) -> Result<Exit, Problems> {
    ask(
        global,
        &Request::Abort,
        "aborting: the previous revision is being restored",
    )
}
