//! The `local` environment of an imported project: berth's stand-in workload
//! plays each service (a job is `true`), since their code lives in their
//! images. A stand-in answers `/ready` on its first port and nothing else, so
//! it gets that probe in place of the compose healthcheck it could not pass
//! (one that passes at once where it has no port),
//! needs none of the secrets, and listens where the host has room: container
//! ports two services share, or below 1024, move.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::names::Renames;
use crate::note::Notes;
use crate::ports::ServicePorts;

pub fn environment(
    services: &Map<String, Value>,
    ports: &IndexMap<String, ServicePorts>,
    renames: &Renames,
    notes: &mut Notes,
) -> Value {
    let mut taken: HashSet<u16> = HashSet::new();
    let mut overlays = Map::new();
    for (compose, service_ports) in ports {
        let name = renames.get(compose).expect("every service renamed");
        let spec = &services[name];
        let job = spec["kind"] == "job";
        let mut overlay = if job {
            json!({ "local": { "run": ["true"] } })
        } else {
            json!({ "local": { "run": ["berth", "workload"] } })
        };
        let mut moved = Map::new();
        for port in &service_ports.ports {
            let mut local = if port.target < 1024 {
                port.target + 8000
            } else {
                port.target
            };
            while taken.contains(&local) {
                // Past the last port, start again above the privileged ones.
                local = local.checked_add(1).unwrap_or(1024);
            }
            taken.insert(local);
            if local != port.target {
                notes.add(&port.at, format!("`{name}` listens on {} in its container; on this machine (environment `local`) its stand-in listens on {local}, since {}", port.target, if port.target < 1024 { "ports below 1024 need root" } else { "a service before it takes that port here" }));
                moved.insert(port.name.clone(), local.into());
            }
        }
        if !moved.is_empty() {
            overlay["ports"] = moved.into();
        }
        // A stand-in without a port is ready as soon as it runs.
        overlay["health"] = match (job, service_ports.ports.is_empty()) {
            (true, _) => Value::Null,
            (false, false) => json!({ "readiness": "/ready", "liveness": null }),
            (false, true) => json!({ "readiness": { "exec": ["true"] }, "liveness": null }),
        };
        for key in [
            "secrets",
            "env_file",
            "volumes",
            "entrypoint",
            "command",
            "user",
            "working_dir",
        ] {
            if spec.get(key).is_some() {
                overlay[key] = Value::Null;
            }
        }
        overlays.insert(name.to_owned(), overlay);
    }
    json!({
        "description": "On this machine: berth's stand-in workload plays every service",
        "runtime": "local",
        "services": overlays,
    })
}
