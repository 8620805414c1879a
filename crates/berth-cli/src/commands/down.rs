//! `berth down`: stop a running berth's services, dependents first, and optionally
//! delete the data stores' data.

use std::time::{Duration, Instant};

use berth_core::{Problem, Problems};
use berth_local::Request;

use super::Exit;
use super::session::{Session, is_running};
use crate::cli::Global;

pub fn run(global: &Global, volumes: bool) -> Result<Exit, Problems> {
    let session = Session::of(global)?;
    match session.recorded() {
        Some((state, true)) => {
            session.request(&Request::Down)?;
            wait_until_gone(state.pid)?;
            println!("stopped berth (pid {})", state.pid);
        }
        Some((state, false)) => {
            session.forget();
            println!(
                "berth (pid {}) had already gone; its services went with it",
                state.pid
            );
        }
        None => println!("nothing is running"),
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

fn wait_until_gone(pid: u32) -> Result<(), Problems> {
    // Stopping waits out each service's grace period in dependency order.
    let deadline = Instant::now() + Duration::from_secs(300);
    while is_running(pid) {
        if Instant::now() > deadline {
            return Err(Problems::one(Problem::new(format!(
                "berth (pid {pid}) is still stopping"
            ))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
