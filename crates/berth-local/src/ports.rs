//! Ports on the loopback interface. Each service has its ports — the declared
//! ones, or a free one for a service that declares none — where berth's listener
//! takes its traffic; each instance of a service listens on free ports of its
//! own behind it. Jobs and data stores, which run one instance and take no
//! weighted traffic, listen on the service's ports themselves.

use std::collections::HashMap;

use berth_core::Ecosystem;
use berth_core::address::Addresses;
use berth_core::model::{Kind, Port};
use indexmap::IndexMap;

/// Every service's ports by name.
#[derive(Clone, Debug, Default)]
pub struct Ports(HashMap<String, IndexMap<String, Port>>);

impl Ports {
    pub fn assign(ecosystem: &Ecosystem) -> std::io::Result<Self> {
        let mut ports = Ports::default();
        ports.extend(ecosystem)?;
        Ok(ports)
    }

    /// Assigns ports to the services of `ecosystem` that have none yet: a new
    /// version of the file may add services.
    pub fn extend(&mut self, ecosystem: &Ecosystem) -> std::io::Result<()> {
        for (name, service) in &ecosystem.services {
            if self.0.contains_key(name) {
                continue;
            }
            let mut declared = service.ports.clone();
            if declared.is_empty() && service.kind == Kind::Service {
                declared.insert("http".to_owned(), free_port()?);
            }
            self.0.insert(name.clone(), declared);
        }
        Ok(())
    }

    pub fn of(&self, service: &str) -> IndexMap<String, Port> {
        self.0.get(service).cloned().unwrap_or_default()
    }
}

/// Whether instances of this kind sit behind berth's listeners.
pub fn behind_listener(kind: Kind) -> bool {
    kind == Kind::Service
}

/// Free ports for one instance, one per named port of the service.
pub fn for_instance(service: &IndexMap<String, Port>) -> std::io::Result<IndexMap<String, Port>> {
    service
        .keys()
        .map(|name| Ok((name.clone(), free_port()?)))
        .collect()
}

/// A port nothing listens on now, as the kernel picks one.
fn free_port() -> std::io::Result<Port> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(Port(listener.local_addr()?.port()))
}

/// Peers reach a service at its listener.
impl Addresses for Ports {
    fn host(&self, _service: &str) -> String {
        "127.0.0.1".to_owned()
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.get(service)?.get(port).copied()
    }
}
