//! How traffic gets in: the routes of each namespace's services become an
//! Ingress, a Gateway API HTTPRoute, or an Istio VirtualService, as the
//! environment's gateway says.

use berth_core::Ecosystem;
use berth_core::model::{GatewayKind, Route, Service};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::gateway_api::{
    BackendRef, HttpRoute, HttpRouteFilter, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    ParentReference, PathMatch, PathModifier, UrlRewrite,
};
use super::{json, namespace_of};

/// A routed service: its name and spec.
type Routed<'a> = (&'a str, &'a Service);

/// The routing objects of the services in `namespace`, if any has a route.
pub fn routes(ecosystem: &Ecosystem, namespace: &str) -> Vec<Value> {
    let routed: Vec<Routed> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| {
            !service.routes.is_empty()
                && !ecosystem.is_external(name)
                && namespace_of(ecosystem, service) == namespace
        })
        .map(|(name, service)| (name.as_str(), service.as_ref()))
        .collect();
    if routed.is_empty() {
        return Vec::new();
    }
    let metadata = ObjectMeta {
        name: Some(format!("{}-routes", ecosystem.name)),
        namespace: Some(namespace.to_owned()),
        ..ObjectMeta::default()
    };
    let gateway = &ecosystem.environment.gateway;
    let host = gateway.host.clone();
    match gateway.kind {
        GatewayKind::Ingress => vec![json(&ingress(metadata, host, &routed))],
        GatewayKind::HttpRoute => {
            let parent = parent(gateway.parent.as_deref(), &ecosystem.name);
            vec![json(&http_route(metadata, parent, host, &routed))]
        }
        GatewayKind::Istio => istio(ecosystem, metadata, host, &routed),
    }
}

/// A VirtualService bound to the Istio Gateway that `parent` names, or to the
/// one berth makes on the default ingress gateway, once, in the first namespace
/// with routes: without `gateways:` a VirtualService routes only traffic inside
/// the mesh, never from outside.
fn istio(
    ecosystem: &Ecosystem,
    metadata: ObjectMeta,
    host: Option<String>,
    routed: &[Routed],
) -> Vec<Value> {
    let namespace = metadata.namespace.clone().unwrap_or_default();
    let host = host.unwrap_or_else(|| "*".to_owned());
    let mut objects = Vec::new();
    let bound = match ecosystem.environment.gateway.parent.as_deref() {
        Some(parent) if parent.contains('/') => parent.to_owned(),
        Some(parent) => format!("{namespace}/{parent}"),
        None => {
            let name = format!("{}-gateway", ecosystem.name);
            let home = first_routed_namespace(ecosystem);
            if home == namespace {
                objects.push(json!({
                    "apiVersion": "networking.istio.io/v1beta1",
                    "kind": "Gateway",
                    "metadata": {"name": name, "namespace": home},
                    "spec": {
                        "selector": {"istio": "ingressgateway"},
                        "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [host]}],
                    },
                }));
            }
            format!("{home}/{name}")
        }
    };
    objects.push(virtual_service(metadata, &host, &bound, routed));
    objects
}

fn first_routed_namespace(ecosystem: &Ecosystem) -> String {
    ecosystem
        .services
        .iter()
        .find(|(name, service)| !service.routes.is_empty() && !ecosystem.is_external(name))
        .map(|(_, service)| namespace_of(ecosystem, service))
        .unwrap_or_else(|| ecosystem.namespace().to_owned())
}

/// `f` of every route of every routed service, in berth.yaml's order.
fn each_route<T>(routed: &[Routed], f: impl Fn(&str, &Service, &Route) -> T) -> Vec<T> {
    routed
        .iter()
        .flat_map(|(name, service)| service.routes.iter().map(|route| f(name, service, route)))
        .collect()
}

fn ingress(metadata: ObjectMeta, host: Option<String>, routed: &[Routed]) -> Ingress {
    let paths = each_route(routed, |name, service, route| HTTPIngressPath {
        path: Some(route.prefix.clone()),
        path_type: "Prefix".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: name.to_owned(),
                port: Some(ServiceBackendPort {
                    name: service.main_port().map(|(port, _)| port.to_owned()),
                    ..ServiceBackendPort::default()
                }),
            }),
            ..IngressBackend::default()
        },
    });
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host,
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}

/// `NAMESPACE/NAME` or `NAME`; by default the Gateway named after the ecosystem.
fn parent(written: Option<&str>, ecosystem: &str) -> ParentReference {
    match written.map(|parent| parent.split_once('/')) {
        Some(Some((namespace, name))) => ParentReference {
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()),
        },
        Some(None) => ParentReference {
            name: written.unwrap_or_default().to_owned(),
            namespace: None,
        },
        None => ParentReference {
            name: ecosystem.to_owned(),
            namespace: None,
        },
    }
}

fn http_route(
    metadata: ObjectMeta,
    parent: ParentReference,
    host: Option<String>,
    routed: &[Routed],
) -> HttpRoute {
    let rules = each_route(routed, |name, service, route| HttpRouteRule {
        matches: vec![HttpRouteMatch {
            path: PathMatch {
                type_: "PathPrefix",
                value: route.prefix.clone(),
            },
        }],
        filters: route
            .rewrite
            .iter()
            .map(|rewrite| HttpRouteFilter {
                type_: "URLRewrite",
                url_rewrite: UrlRewrite {
                    path: PathModifier {
                        type_: "ReplacePrefixMatch",
                        replace_prefix_match: rewrite.clone(),
                    },
                },
            })
            .collect(),
        backend_refs: vec![BackendRef {
            name: name.to_owned(),
            port: main_port(service),
        }],
    });
    HttpRoute::new(
        metadata,
        HttpRouteSpec {
            parent_refs: vec![parent],
            hostnames: host.into_iter().collect(),
            rules,
        },
    )
}

fn main_port(service: &Service) -> u16 {
    service.main_port().map_or(80, |(_, port)| port.0)
}

/// Istio's VirtualService is a custom resource, outside k8s-openapi: written as
/// JSON in the shape Istio documents, as the RuneframeOS strategy draws it.
fn virtual_service(metadata: ObjectMeta, host: &str, gateway: &str, routed: &[Routed]) -> Value {
    let namespace = metadata.namespace.clone().unwrap_or_default();
    let http: Vec<Value> = each_route(routed, |name, service, route| {
        let mut rule = json!({
            "match": [{"uri": {"prefix": route.prefix}}],
            "route": [{"destination": {
                "host": format!("{name}.{namespace}.svc.cluster.local"),
                "port": {"number": main_port(service)},
            }}],
        });
        if let Some(rewrite) = &route.rewrite {
            rule["rewrite"] = json!({"uri": rewrite});
        }
        rule
    });
    json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": metadata,
        "spec": {"hosts": [host], "gateways": [gateway], "http": http},
    })
}
