//! Traffic weights on a route: where the environment's gateway is a Gateway
//! API HTTPRoute or an Istio VirtualService, a canary's share of the traffic
//! that comes in through it is set on the route — the canary's own Service
//! beside the stable one, each backend weighted — rather than by replicas.

use serde_json::{Value, json};

/// The HTTPRoute or VirtualService among `shared` that sends traffic to
/// `service`, if one does.
pub fn routing<'a>(shared: &'a [Value], service: &str) -> Option<&'a Value> {
    shared.iter().find(|object| {
        (object["kind"] == "HTTPRoute" || object["kind"] == "VirtualService")
            && !backends(object, service).is_empty()
    })
}

/// `route` with each of its backends that is `service` split in two: `service`
/// with `100 - weight`, and `canary` (a Service beside it, on the same port)
/// with `weight`.
pub fn weighted(route: &Value, service: &str, canary: &str, weight: u32) -> Value {
    let mut route = route.clone();
    let stable = 100 - weight.min(100);
    match route["kind"].as_str() {
        Some("HTTPRoute") => {
            for rule in list(&mut route, "/spec/rules") {
                let refs = rule["backendRefs"].as_array().cloned().unwrap_or_default();
                let split: Vec<Value> = refs
                    .into_iter()
                    .flat_map(|backend| {
                        if backend["name"] != service {
                            return vec![backend];
                        }
                        let mut second = backend.clone();
                        second["name"] = json!(canary);
                        let mut first = backend;
                        first["weight"] = json!(stable);
                        second["weight"] = json!(weight);
                        vec![first, second]
                    })
                    .collect();
                rule["backendRefs"] = json!(split);
            }
        }
        Some("VirtualService") => {
            for http in list(&mut route, "/spec/http") {
                let destinations = http["route"].as_array().cloned().unwrap_or_default();
                let split: Vec<Value> = destinations
                    .into_iter()
                    .flat_map(|destination| {
                        let host = destination["destination"]["host"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        if !names(&host, service) {
                            return vec![destination];
                        }
                        let mut second = destination.clone();
                        second["destination"]["host"] = json!(host.replacen(service, canary, 1));
                        let mut first = destination;
                        first["weight"] = json!(stable);
                        second["weight"] = json!(weight);
                        vec![first, second]
                    })
                    .collect();
                http["route"] = json!(split);
            }
        }
        _ => {}
    }
    route
}

/// The route's backends that are `service`.
fn backends<'a>(route: &'a Value, service: &str) -> Vec<&'a Value> {
    match route["kind"].as_str() {
        Some("HTTPRoute") => route["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["backendRefs"].as_array().into_iter().flatten())
            .filter(|backend| backend["name"] == service)
            .collect(),
        Some("VirtualService") => route["spec"]["http"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|http| http["route"].as_array().into_iter().flatten())
            .filter(|d| {
                names(
                    d["destination"]["host"].as_str().unwrap_or_default(),
                    service,
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether an Istio destination host (`api`, or `api.shop.svc.cluster.local`)
/// is the Service `service`.
fn names(host: &str, service: &str) -> bool {
    host.split('.').next() == Some(service)
}

fn list<'a>(value: &'a mut Value, pointer: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_route() -> Value {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": { "name": "shop-routes", "namespace": "shop" },
            "spec": { "rules": [
                { "matches": [{ "path": { "type": "PathPrefix", "value": "/api" } }],
                  "backendRefs": [{ "name": "api", "port": 8080 }] },
                { "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                  "backendRefs": [{ "name": "web", "port": 3000 }] }
            ] }
        })
    }

    #[test]
    fn an_http_route_sends_the_canary_its_weight_and_leaves_other_services_alone() {
        let route = http_route();
        assert!(routing(std::slice::from_ref(&route), "api").is_some());
        assert!(routing(std::slice::from_ref(&route), "worker").is_none());
        let at = weighted(&route, "api", "api-canary", 25);
        assert_eq!(
            at["spec"]["rules"][0]["backendRefs"],
            json!([
                { "name": "api", "port": 8080, "weight": 75 },
                { "name": "api-canary", "port": 8080, "weight": 25 }
            ])
        );
        assert_eq!(at["spec"]["rules"][1], route["spec"]["rules"][1]);
    }

    #[test]
    fn a_virtual_service_sends_the_canary_its_weight() {
        let route = json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": { "name": "shop-routes", "namespace": "shop" },
            "spec": { "hosts": ["*"], "http": [
                { "match": [{ "uri": { "prefix": "/api" } }],
                  "route": [{ "destination": { "host": "api.shop.svc.cluster.local", "port": { "number": 8080 } } }] },
                { "route": [{ "destination": { "host": "apis.shop.svc.cluster.local", "port": { "number": 1 } } }] }
            ] }
        });
        let at = weighted(&route, "api", "api-canary", 10);
        assert_eq!(
            at["spec"]["http"][0]["route"],
            json!([
                { "destination": { "host": "api.shop.svc.cluster.local", "port": { "number": 8080 } }, "weight": 90 },
                { "destination": { "host": "api-canary.shop.svc.cluster.local", "port": { "number": 8080 } }, "weight": 10 }
            ])
        );
        assert_eq!(
            at["spec"]["http"][1], route["spec"]["http"][1],
            "`apis` is another service"
        );
    }
}
