//! Compose's port forms — `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `3306`,
//! `{ target, published, host_ip, protocol }`, `expose:` — read as three
//! things: the port the container listens on, the host port it is published
//! on, and the host address. Only what compose published is published.

use berth_core::model::Kind;

use crate::document::Field;
use crate::note::{At, Notes};

/// A port the container listens on, and berth's name for it.
pub struct ContainerPort {
    pub name: String,
    pub target: u16,
    pub at: At,
}

/// A service's ports, and where compose published which of them: berth's
/// `publish:` text (`8080`, `127.0.0.1:8080`, `0` for a free host port).
pub struct ServicePorts {
    pub ports: Vec<ContainerPort>,
    pub published: Vec<(String, String)>,
}

pub fn service_ports(definition: &Field, kind: Kind, notes: &mut Notes) -> ServicePorts {
    let mut ports: Vec<ContainerPort> = Vec::new();
    let mut published = Vec::new();
    let listed = |key: &str| {
        definition
            .get(key)
            .map(Field::items)
            .unwrap_or_default()
            .to_vec()
    };
    let entries = listed("ports")
        .into_iter()
        .map(|item| (item, false))
        .chain(listed("expose").into_iter().map(|item| (item, true)));
    for (item, exposed) in entries {
        let Some(port) = read(&item, notes) else {
            continue;
        };
        let index = match ports.iter().position(|p| p.target == port.target) {
            Some(index) => index,
            None => {
                let name = port_name(kind, ports.len(), port.target);
                ports.push(ContainerPort {
                    name,
                    target: port.target,
                    at: item.at.clone(),
                });
                ports.len() - 1
            }
        };
        if exposed {
            continue;
        }
        let name = ports[index].name.clone();
        if published.iter().any(|(n, _)| *n == name) {
            notes.add(&item.at, format!("port {} is published a second time, not carried over: berth publishes a port once", port.target));
            continue;
        }
        let at = match (port.address, port.published) {
            (Some(address), published) => format!("{address}:{}", published.unwrap_or(0)),
            (None, published) => published.unwrap_or(0).to_string(),
        };
        if at.parse::<berth_core::model::Publish>().is_err() {
            notes.add(&item.at, format!("`{at}` is not a host address and port, not carried over: the port is not published"));
            continue;
        }
        published.push((name, at));
    }
    if ports.is_empty()
        && let Some(store) = kind.data_store()
    {
        for (name, target) in store.ports {
            ports.push(ContainerPort {
                name: (*name).to_owned(),
                target: *target,
                at: definition.at.clone(),
            });
        }
    }
    ServicePorts { ports, published }
}

struct Read {
    target: u16,
    published: Option<u16>,
    address: Option<String>,
}

fn read(item: &Field, notes: &mut Notes) -> Option<Read> {
    let (target, published, address, protocol) = if item.is_map() {
        let get = |key: &str| item.get(key).and_then(Field::text);
        (
            get("target")?,
            get("published"),
            get("host_ip"),
            get("protocol"),
        )
    } else {
        let text = item.text()?;
        let (address, protocol) = match text.split_once('/') {
            Some((address, protocol)) => (address.to_owned(), Some(protocol.to_owned())),
            None => (text, None),
        };
        // An IPv6 host address is in brackets, and holds colons of its own.
        let (host, rest) = match address.strip_prefix('[').and_then(|a| a.split_once("]:")) {
            Some((host, rest)) => (Some(host.to_owned()), rest.to_owned()),
            None => (None, address),
        };
        let mut parts: Vec<&str> = rest.split(':').collect();
        let target = parts.pop().unwrap_or_default().to_owned();
        let published = parts.pop().map(str::to_owned).filter(|p| !p.is_empty());
        let host = host.or_else(|| parts.pop().map(str::to_owned));
        (target, published, host, protocol)
    };
    if protocol.as_deref().is_some_and(|p| p != "tcp") {
        notes.add(
            &item.at,
            format!(
                "port {target}/{} not carried over: berth's ports are TCP",
                protocol.unwrap_or_default()
            ),
        );
        return None;
    }
    let Ok(target) = target.parse::<u16>() else {
        notes.add(
            &item.at,
            format!("port `{target}` not carried over: berth names single ports, not ranges"),
        );
        return None;
    };
    let published = match published.as_deref().map(str::parse::<u16>) {
        Some(Ok(port)) => Some(port),
        Some(Err(_)) => {
            notes.add(
                &item.at,
                format!(
                    "host ports `{}` not carried over: berth publishes a port on one host port",
                    published.unwrap_or_default()
                ),
            );
            None
        }
        None => None,
    };
    let address = address.filter(|a| !a.is_empty());
    Some(Read {
        target,
        published,
        address,
    })
}

/// A data store's ports keep the names berth knows them by; another service's
/// first port is `main`, the others `port-NUMBER`.
fn port_name(kind: Kind, index: usize, target: u16) -> String {
    let known = kind
        .data_store()
        .and_then(|store| store.ports.iter().find(|(_, port)| *port == target));
    match (known, index) {
        (Some((name, _)), _) => (*name).to_owned(),
        (None, 0) if !kind.is_data() => "main".to_owned(),
        _ => format!("port-{target}"),
    }
}
