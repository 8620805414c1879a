//! `berth down`: stop a running berth's services, dependents first, and optionally
//! delete the data stores' data.

use std::time::{Duration, Instant};

use berth_core::{Problem, Problems};
use berth_local::Request;

use super::Exit;
use super::session::{Found, Session};
use crate::cli::Global;

pub fn run(global: &Global, volumes: bool) -> Result<Exit, Problems> {
    let session = Session::of(global)?;
    match session.found() {
        Found::Running(pid) => {
            session.request(&Request::Down)?;
            wait_until_gone(&session, pid)?;
            println!("stopped berth (pid {pid})");
        }
        Found::Gone(pid) => {
            session.clear_leftovers();
            println!("berth (pid {pid}) had already gone; its services went with it");
        }
        Found::Nothing => println!("nothing is running"),
    }
    if volumes {
        let data = session.dir.join("data");
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(|e| {
                Problems::one(Problem::new(format!(
                    "cannot delete {}: {e}",
                    data.display()
                )))
            })?;
            println!("deleted {}", data.display());
        }
    }
    Ok(Exit::Success)
}

fn wait_until_gone(session: &Session, pid: u32) -> Result<(), Problems> {
    // Stopping waits out each service's grace period in dependency order.
    let deadline = Instant::now() + Duration::from_secs(300);
    while matches!(session.found(), Found::Running(running) if running == pid) {
        if Instant::now() > deadline {
            return Err(Problems::one(Problem::new(format!(
                "berth (pid {pid}) is still stopping"
            ))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
