//! Compose's port forms — `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `3306`,
//! `{ target, published, protocol }` — read as the port the container listens on.

use crate::document::Field;
use crate::note::{At, Notes};

/// A port a container listens on, and the host port compose published it on.
pub struct ContainerPort<'a> {
    pub target: u16,
    pub published: Option<u16>,
    pub at: At<'a>,
}

/// The TCP ports of `ports:` and `expose:` entries, in order, each once.
pub fn container_ports<'a>(fields: &[Field<'a>], notes: &mut Notes) -> Vec<ContainerPort<'a>> {
    let mut ports: Vec<ContainerPort> = Vec::new();
    for item in fields.iter().flat_map(Field::items) {
        let Some(port) = read(&item, notes) else {
            continue;
        };
        if !ports.iter().any(|p| p.target == port.target) {
            ports.push(port);
        }
    }
    ports
}

fn read<'a>(item: &Field<'a>, notes: &mut Notes) -> Option<ContainerPort<'a>> {
    let (target, published, protocol) = if item.is_map() {
        let entries = item.entries();
        let get = |key: &str| entries.get(key).and_then(Field::text);
        (get("target")?, get("published"), get("protocol"))
    } else {
        let text = item.text()?;
        let (address, protocol) = match text.split_once('/') {
            Some((address, protocol)) => (address.to_owned(), Some(protocol.to_owned())),
            None => (text, None),
        };
        let mut parts = address.rsplit(':');
        let target = parts.next().unwrap_or_default().to_owned();
        (target, parts.next().map(str::to_owned), protocol)
    };
    if protocol.as_deref().is_some_and(|p| p != "tcp") {
        notes.add(
            item.at,
            format!(
                "port {target}/{} not carried over: berth's ports are TCP",
                protocol.unwrap_or_default()
            ),
        );
        return None;
    }
    let Ok(target) = target.parse::<u16>() else {
        notes.add(
            item.at,
            format!("port `{target}` not carried over: berth names single ports, not ranges"),
        );
        return None;
    };
    Some(ContainerPort {
        target,
        published: published.and_then(|p| p.parse().ok()),
        at: item.at,
    })
}
