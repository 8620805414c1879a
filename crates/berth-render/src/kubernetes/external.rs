//! A service an environment keeps outside the cluster, still reached inside it
//! by its name: a Service of type ExternalName when the address is a host name,
//! or, since ExternalName cannot point at an IP, a Service without a selector and
//! the EndpointSlice that gives its address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_core::model::Address;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::json;

const PORT_NAME: &str = "main";

pub fn objects(address: &Address, metadata: ObjectMeta) -> Vec<Value> {
    let port = ServicePort {
        name: Some(PORT_NAME.into()),
        port: address.port.0.into(),
        ..ServicePort::default()
    };
    let Ok(ip) = address.host.parse::<IpAddr>() else {
        return vec![json(&Service {
            metadata,
            spec: Some(ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some(address.host.clone()),
                ports: Some(vec![port]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        })];
    };
    let slice = endpoint_slice(ip, address.port.0, &metadata);
    let service = Service {
        metadata,
        spec: Some(ServiceSpec {
            ports: Some(vec![port]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    vec![json(&service), json(&slice)]
}

fn endpoint_slice(ip: IpAddr, port: u16, service: &ObjectMeta) -> EndpointSlice {
    let name = service.name.clone().unwrap_or_default();
    let mut labels = service.labels.clone().unwrap_or_default();
    labels.extend(BTreeMap::from([
        ("kubernetes.io/service-name".to_owned(), name.clone()),
        // Not the cluster's own controller's, so that it leaves the slice alone.
        (
            "endpointslice.kubernetes.io/managed-by".to_owned(),
            "berth".to_owned(),
        ),
    ]));
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(format!("{name}-external")),
            namespace: service.namespace.clone(),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        address_type: if ip.is_ipv4() { "IPv4" } else { "IPv6" }.into(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            }),
            ..Endpoint::default()
        }]),
        ports: Some(vec![EndpointPort {
            name: Some(PORT_NAME.into()),
            port: Some(port.into()),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}
