//! `berth start SERVICE...`: start stopped services of a running berth again,
//! as `docker compose start` does; one that runs already is left as it is.

use berth_core::{Problem, Problems};
use berth_local::{Reply, Request};

use super::Exit;
use super::session::Session;
use crate::cli::Global;

pub fn run(global: &Global, services: &[String]) -> Result<Exit, Problems> {
    let session = Session::of(global)?;
    let Reply::Status { instances, .. } = session.request(&Request::Status)? else {
        unreachable!("a status request is answered with a status");
    };
    for service in services {
        let states: Vec<&str> = instances
            .iter()
            .filter(|i| &i.service == service)
            .map(|i| i.state.as_str())
            .collect();
        if states.is_empty() {
            return Err(Problems::one(
                Problem::new(format!("there is no service `{service}` running"))
                    .help("`berth status` lists the services of the running berth"),
            ));
        }
        if states.iter().all(|state| *state == "running") {
            println!("{service} is running already");
            continue;
        }
        let request = Request::Restart {
            service: service.clone(),
        };
        if let Reply::Error { message } = session.request(&request)? {
            return Err(Problems::one(Problem::new(message)));
        }
        println!("started {service}");
    }
    Ok(Exit::Success)
}
