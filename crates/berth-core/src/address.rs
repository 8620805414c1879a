//! Resolving `${service.url}` and its kin: each runtime says where services are
//! on its network; external services are where the environment says they are.

use crate::model::{Ecosystem, Field, Port, Reference, Service, Template};

/// Where a runtime places services: the host name its peers use, and the port
/// number behind each named port.
pub trait Addresses {
    fn host(&self, service: &str) -> String;
    fn port(&self, service: &str, port: &str) -> Option<Port>;
}

/// The value of `template` with every reference resolved.
pub fn resolve(template: &Template, ecosystem: &Ecosystem, addresses: &impl Addresses) -> String {
    template.resolve(|reference| value(reference, ecosystem, addresses))
}

fn value(reference: &Reference, ecosystem: &Ecosystem, addresses: &impl Addresses) -> String {
    let name = reference.service.as_str();
    let service = &ecosystem.services[name];
    if let Some(external) = ecosystem.environment.external.get(name) {
        return match &reference.field {
            Field::Host => external.host.clone(),
            Field::Port | Field::NamedPort(_) => external.port.to_string(),
            Field::Url => match &external.scheme {
                Some(_) => external.to_string(),
                None => url(service, &external.host, external.port),
            },
        };
    }
    let host = addresses.host(name);
    let port = |port_name: &str| {
        addresses
            .port(name, port_name)
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    let main = service
        .main_port()
        .map(|(port_name, _)| port_name)
        .unwrap_or_default();
    match &reference.field {
        Field::Host => host,
        Field::Port => port(main),
        Field::NamedPort(port_name) => port(port_name),
        Field::Url => match addresses.port(name, main) {
            Some(number) => url(service, &host, number),
            None => String::new(),
        },
    }
}

/// The connection URL of a service: its data kind's form, or plain HTTP.
fn url(service: &Service, host: &str, port: Port) -> String {
    match service.kind.data_store() {
        Some(store) => store.url_for(host, port.0),
        None => format!("http://{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Loopback;

    impl Addresses for Loopback {
        fn host(&self, _: &str) -> String {
            "127.0.0.1".to_owned()
        }
        fn port(&self, _: &str, port: &str) -> Option<Port> {
            Some(Port(if port == "management" { 15672 } else { 9000 }))
        }
    }

    #[test]
    fn references_resolve_per_kind_and_to_externals() {
        let yaml = "name: a\nservices:\n  db: { kind: postgres }\n  mq: { kind: rabbitmq }\n  api: { image: a:1, ports: { http: 9001 } }\n  cache: { kind: redis }\nenvironments:\n  local: { external: { cache: cache.internal:6380 } }\n";
        let project = crate::load_str("b.yaml", yaml).unwrap();
        let ecosystem = project.ecosystem(None).unwrap();
        let resolve = |text: &str| resolve(&text.parse().unwrap(), ecosystem, &Loopback);
        assert_eq!(resolve("${db.url}/app"), "postgres://127.0.0.1:9000/app");
        assert_eq!(resolve("${api.url}"), "http://127.0.0.1:9000");
        assert_eq!(resolve("${mq.port.management}"), "15672");
        assert_eq!(resolve("${cache.url}"), "redis://cache.internal:6380");
        assert_eq!(
            resolve("${cache.host}:${cache.port}"),
            "cache.internal:6380"
        );
    }
}
