//! Defaults filled into a service once its environment is merged, so that everything
//! downstream sees one complete shape: the data kinds' image, ports and probe, and
//! every service's phase.

use indexmap::IndexMap;

use crate::model::{Check, Command, Kind, Port, PortRef, Probe, Service};

pub fn fill_in(service: &mut Service, phases: &[String]) {
    if service.phase.is_none() {
        service.phase = default_phase(service.kind, phases);
    }
    let Some(store) = service.kind.data_store() else {
        return;
    };
    if service.image.is_none() {
        let version = service.version.as_deref().unwrap_or(store.version);
        service.image = Some(format!("{}:{version}", store.image));
    }
    if service.ports.is_empty() {
        service.ports = store
            .ports
            .iter()
            .map(|(name, port)| (name.to_string(), Port(*port)))
            .collect::<IndexMap<_, _>>();
    }
    if service.health.readiness.is_none() {
        let (main, port) = service.main_port().expect("data kinds have ports");
        // Something else playing the store (`local.run`) is only asked for its port.
        let check = match (store.local_check, &service.local) {
            (Some(ready), None) => Check::Exec {
                command: Command::Exec(ready(port.0)),
            },
            _ => Check::Tcp {
                port: Some(PortRef::Name(main.to_owned())),
            },
        };
        let mut probe = Probe::new(check);
        probe.period = crate::model::Duration::from_secs(2);
        service.health.readiness = Some(probe);
    }
}

/// Data kinds go to the `data` phase, everything else to `core`, when the ecosystem
/// has those phases; otherwise the service must say its phase (validation tells it).
fn default_phase(kind: Kind, phases: &[String]) -> Option<String> {
    let wanted = if kind.is_data() { "data" } else { "core" };
    phases.iter().find(|p| *p == wanted).cloned()
}
