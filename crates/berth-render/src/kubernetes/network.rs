//! Who may talk to whom, and how traffic gets in.
//!
//! NetworkPolicies follow `depends_on`: every namespace denies by default; each
//! service admits traffic only from the services that depend on it (and from the
//! ingress controller when it has routes), and may reach only what it depends on,
//! plus DNS.

use std::collections::{BTreeMap, HashMap};

use berth_core::Ecosystem;
use berth_core::model::Service;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{namespace_of, selector};

/// Nothing in or out of `namespace` that another policy does not allow.
pub fn default_deny(ecosystem: &Ecosystem, namespace: &str) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some("default-deny".into()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_owned(),
                ecosystem.name.clone(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// A pod of `service`, wherever its namespace is.
fn peer(ecosystem: &Ecosystem, service: &str) -> NetworkPolicyPeer {
    let namespace = namespace_of(ecosystem, &ecosystem.services[service]);
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(selector(service)),
            ..LabelSelector::default()
        }),
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                namespace,
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn tcp(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port.into())),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

/// The services that depend on each service, in berth.yaml's order.
pub fn dependents(ecosystem: &Ecosystem) -> HashMap<&str, Vec<&str>> {
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, service) in &ecosystem.services {
        for dependency in service.depends_on.names() {
            dependents.entry(dependency).or_default().push(name);
        }
    }
    dependents
}

/// `dependents`: the services that depend on this one.
pub fn policy(
    ecosystem: &Ecosystem,
    name: &str,
    service: &Service,
    dependents: &[&str],
    metadata: &ObjectMeta,
) -> NetworkPolicy {
    let ports: Vec<NetworkPolicyPort> = service.ports.values().map(|p| tcp(p.0)).collect();
    let mut from: Vec<NetworkPolicyPeer> = dependents
        .iter()
        .map(|other| peer(ecosystem, other))
        .collect();
    if !service.routes.is_empty() {
        // The ingress controller, in whichever namespace it runs.
        from.push(NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        });
    }
    let dns = NetworkPolicyEgressRule {
        ports: Some(
            ["UDP", "TCP"]
                .into_iter()
                .map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some(protocol.into()),
                    ..NetworkPolicyPort::default()
                })
                .collect(),
        ),
        ..NetworkPolicyEgressRule::default()
    };
    let mut egress = vec![dns];
    for dependency in service.depends_on.names() {
        let target = &ecosystem.services[dependency];
        let rule = match ecosystem.environment.external.get(dependency) {
            // Outside the cluster: anywhere, on its port.
            Some(address) => NetworkPolicyEgressRule {
                ports: Some(vec![tcp(address.port.0)]),
                ..NetworkPolicyEgressRule::default()
            },
            None => NetworkPolicyEgressRule {
                to: Some(vec![peer(ecosystem, dependency)]),
                ports: (!target.ports.is_empty())
                    .then(|| target.ports.values().map(|p| tcp(p.0)).collect()),
            },
        };
        egress.push(rule);
    }
    NetworkPolicy {
        metadata: metadata.clone(),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector(name)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: (!from.is_empty() && !ports.is_empty()).then(|| {
                vec![NetworkPolicyIngressRule {
                    from: Some(from),
                    ports: Some(ports),
                }]
            }),
            egress: Some(egress),
        }),
    }
}
