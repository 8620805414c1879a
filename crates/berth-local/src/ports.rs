//! Ports on the loopback interface: the declared ones, and a free one for each
//! service that declares none.

use std::collections::HashMap;

use berth_core::Ecosystem;
use berth_core::address::Addresses;
use berth_core::model::{Kind, Port};
use indexmap::IndexMap;

/// Every local service's ports by name.
#[derive(Clone, Debug, Default)]
pub struct Ports(HashMap<String, IndexMap<String, Port>>);

impl Ports {
    pub fn assign(ecosystem: &Ecosystem) -> std::io::Result<Self> {
        let mut ports = HashMap::new();
        for (name, service) in &ecosystem.services {
            let mut assigned = service.ports.clone();
            if assigned.is_empty() && service.kind == Kind::Service {
                assigned.insert("http".to_owned(), free_port()?);
            }
            ports.insert(name.clone(), assigned);
        }
        Ok(Ports(ports))
    }

    pub fn of(&self, service: &str) -> &IndexMap<String, Port> {
        &self.0[service]
    }

    pub fn main(&self, service: &str) -> Option<Port> {
        self.0.get(service)?.values().next().copied()
    }
}

/// A port nothing listens on now, as the kernel picks one.
fn free_port() -> std::io::Result<Port> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(Port(listener.local_addr()?.port()))
}

impl Addresses for Ports {
    fn host(&self, _service: &str) -> String {
        "127.0.0.1".to_owned()
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.get(service)?.get(port).copied()
    }
}
