//! Ports on the loopback interface. Each service has its ports — the declared
//! ones, or a free one for a service that declares none — where berth's listener
//! takes its traffic; each instance of a service listens on free ports of its
//! own behind it. Jobs and data stores, which run one instance and take no
//! weighted traffic, listen on the service's ports themselves. Containers
//! listen on their declared ports inside their own network namespace, so on
//! the host a container's service takes the port it is published on, or a
//! free one where it is not published.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use berth_core::Ecosystem;
use berth_core::address::Addresses;
use berth_core::model::{Kind, Port, Runtime, Service};
use indexmap::IndexMap;

/// Every service's ports by name.
#[derive(Clone, Debug, Default)]
pub struct Ports(HashMap<String, IndexMap<String, Port>>);

impl Ports {
    /// Assigns ports to the services of `ecosystem` that have none yet: a new
    /// version of the file may add services.
    pub fn extend(&mut self, ecosystem: &Ecosystem) -> std::io::Result<()> {
        for (name, service) in &ecosystem.services {
            if self.0.contains_key(name) {
                continue;
            }
            let mut declared = match ecosystem.environment.runtime {
                Runtime::Compose => self.published(service, ecosystem)?,
                _ => service.ports.clone(),
            };
            if declared.is_empty() && service.kind == Kind::Service {
                declared.insert("http".to_owned(), self.free_port(ecosystem)?);
            }
            self.0.insert(name.clone(), declared);
        }
        Ok(())
    }

    /// Each port's host port for a container: where it is published, else free.
    fn published(
        &self,
        service: &Service,
        ecosystem: &Ecosystem,
    ) -> std::io::Result<IndexMap<String, Port>> {
        let published = service.published();
        service
            .ports
            .keys()
            .map(|name| {
                let port = published
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, at)| at.port);
                let port = match port {
                    Some(port) => port,
                    None => self.free_port(ecosystem)?,
                };
                Ok((name.clone(), port))
            })
            .collect()
    }

    pub fn of(&self, service: &str) -> IndexMap<String, Port> {
        self.0.get(service).cloned().unwrap_or_default()
    }

    /// Free ports for one instance, one per named port of `service`.
    pub fn for_instance(
        &self,
        service: &str,
        ecosystem: &Ecosystem,
    ) -> std::io::Result<IndexMap<String, Port>> {
        self.of(service)
            .keys()
            .map(|name| Ok((name.clone(), self.free_port(ecosystem)?)))
            .collect()
    }

    /// A port nothing listens on now that no service declares or holds, below
    /// the kernel's range for outgoing connections — a probe's or a client's
    /// source port would otherwise take an instance's port before it listens.
    fn free_port(&self, ecosystem: &Ecosystem) -> std::io::Result<Port> {
        let taken = |port: u16| {
            self.0
                .values()
                .any(|ports| ports.values().any(|p| p.0 == port))
                || ecosystem
                    .services
                    .values()
                    .any(|s| s.ports.values().any(|p| p.0 == port))
        };
        let (low, high) = below_outgoing();
        let span = u32::from(high - low);
        for _ in 0..span {
            let offset = next().fetch_add(1, Ordering::Relaxed) % span;
            let port = low + offset as u16;
            if !taken(port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(Port(port));
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("no free port from {low} to {high}"),
        ))
    }
}

/// Where the next search for a free port starts: on from the last port handed
/// out, so that one freed a moment ago is not handed out again at once, from a
/// start of its own for each berth, so that two berths rarely try the same port.
fn next() -> &'static AtomicU32 {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    NEXT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        AtomicU32::new(nanos ^ std::process::id().wrapping_mul(7919))
    })
}

/// Ports for instances: from 20000 up to the kernel's range for outgoing
/// connections (`ip_local_port_range`, 32768 by default).
fn below_outgoing() -> (u16, u16) {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if low > 21000 {
        (20000, low)
    } else {
        (low.max(1024), 65535)
    }
}

/// Whether instances of this kind sit behind berth's listeners.
pub fn behind_listener(kind: Kind) -> bool {
    kind == Kind::Service
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
