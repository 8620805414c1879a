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

/// Where a route kind keeps its backends: its list of rules, each rule's
/// list of backends, and where a backend names its Service.
struct Shape {
    rules: &'static str,
    backends: &'static str,
    service: &'static str,
}

fn shape(route: &Value) -> Option<Shape> {
    match route["kind"].as_str()? {
        "HTTPRoute" => Some(Shape {
            rules: "/spec/rules",
            backends: "backendRefs",
            service: "/name",
        }),
        // A destination host is `api`, or `api.shop.svc.cluster.local`.
        "VirtualService" => Some(Shape {
            rules: "/spec/http",
            backends: "route",
            service: "/destination/host",
        }),
        _ => None,
    }
}

/// `route` with each of its backends that is `service` split in two: `service`
/// with `100 - weight`, and `canary` (a Service beside it, on the same port)
/// with `weight`.
pub fn weighted(route: &Value, service: &str, canary: &str, weight: u32) -> Value {
    let mut route = route.clone();
    let Some(shape) = shape(&route) else {
        return route;
    };
    let stable = 100 - weight.min(100);
    for rule in route
        .pointer_mut(shape.rules)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let backends = rule[shape.backends].as_array().cloned().unwrap_or_default();
        let split: Vec<Value> = backends
            .into_iter()
            .flat_map(|backend| {
                let Some(named) = names(&backend, &shape, service) else {
                    return vec![backend];
                };
                let mut second = backend.clone();
                *second
                    .pointer_mut(shape.service)
                    .expect("it names a Service") = json!(named.replacen(service, canary, 1));
                let mut first = backend;
                first["weight"] = json!(stable);
                second["weight"] = json!(weight);
                vec![first, second]
            })
            .collect();
        rule[shape.backends] = json!(split);
    }
    route
}

/// The route's backends that are `service`.
fn backends<'a>(route: &'a Value, service: &str) -> Vec<&'a Value> {
    let Some(shape) = shape(route) else {
        return Vec::new();
    };
    route
        .pointer(shape.rules)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|rule| rule[shape.backends].as_array().into_iter().flatten())
        .filter(|backend| names(backend, &shape, service).is_some())
        .collect()
}

/// What `backend` names its Service by, where that is the Service `service`.
fn names(backend: &Value, shape: &Shape, service: &str) -> Option<String> {
    let named = backend.pointer(shape.service)?.as_str()?;
    (named.split('.').next() == Some(service)).then(|| named.to_owned())
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
