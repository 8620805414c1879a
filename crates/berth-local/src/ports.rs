//! Ports on the loopback interface: the declared ones for a service's first
//! instance, and free ones for its other instances and for services that declare
//! none.

use std::collections::HashMap;

use berth_core::Ecosystem;
use berth_core::address::Addresses;
use berth_core::model::{Kind, Port};
use indexmap::IndexMap;

/// Every local instance's ports by name.
#[derive(Clone, Debug, Default)]
pub struct Ports(HashMap<String, Vec<IndexMap<String, Port>>>);

impl Ports {
    pub fn assign(ecosystem: &Ecosystem) -> std::io::Result<Self> {
        let mut ports = HashMap::new();
        for (name, service) in &ecosystem.services {
            let mut first = service.ports.clone();
            if first.is_empty() && service.kind == Kind::Service {
                first.insert("http".to_owned(), free_port()?);
            }
            let mut instances = vec![first.clone()];
            for _ in 1..instances_of(ecosystem, name) {
                let others = first
                    .keys()
                    .map(|port| Ok((port.clone(), free_port()?)))
                    .collect::<std::io::Result<_>>()?;
                instances.push(others);
            }
            ports.insert(name.clone(), instances);
        }
        Ok(Ports(ports))
    }

    /// The ports of one instance.
    pub fn of(&self, service: &str, instance: usize) -> &IndexMap<String, Port> {
        &self.0[service][instance]
    }

    pub fn main(&self, service: &str, instance: usize) -> Option<Port> {
        self.0.get(service)?.get(instance)?.values().next().copied()
    }
}

/// How many instances of a service run locally: its replicas for services; one
/// for jobs and data stores, which replicate only in a cluster.
pub fn instances_of(ecosystem: &Ecosystem, service: &str) -> usize {
    let service = &ecosystem.services[service];
    match service.kind {
        Kind::Service => service.replicas().max(1) as usize,
        _ => 1,
    }
}

/// A port nothing listens on now, as the kernel picks one.
fn free_port() -> std::io::Result<Port> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(Port(listener.local_addr()?.port()))
}

/// Peers reach a service at its first instance.
impl Addresses for Ports {
    fn host(&self, _service: &str) -> String {
        "127.0.0.1".to_owned()
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.get(service)?.first()?.get(port).copied()
    }
}
