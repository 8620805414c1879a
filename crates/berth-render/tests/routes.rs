//! Routes reach the services from outside the cluster: an Istio VirtualService is
//! bound to a Gateway, made by berth unless the environment names its own.

use serde_json::Value;

fn objects(yaml: &str, environment: &str) -> Vec<Value> {
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    berth_render::objects(project.ecosystem(Some(environment)).unwrap())
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

const ROUTED: &str = "name: game\nservices:\n  alchemy: { image: 'x/alchemy:1', namespace: alchemy, ports: { http: 8080 }, routes: [/alchemy] }\n  worlds: { image: 'x/worlds:1', namespace: worlds, ports: { http: 8081 }, routes: [/worlds] }\nenvironments:\n";

#[test]
fn istio_routes_are_bound_to_one_gateway_berth_makes() {
    let yaml = format!(
        "{ROUTED}  prod: {{ runtime: kubernetes, gateway: {{ kind: istio, host: game.example }} }}\n"
    );
    let objects = objects(&yaml, "prod");
    let gateways = of_kind(&objects, "Gateway");
    assert_eq!(
        gateways.len(),
        1,
        "one Gateway, however many namespaces route"
    );
    assert_eq!(gateways[0]["metadata"]["namespace"], "alchemy");
    assert_eq!(
        gateways[0]["spec"]["servers"][0]["hosts"][0],
        "game.example"
    );
    let services = of_kind(&objects, "VirtualService");
    assert_eq!(services.len(), 2);
    for service in services {
        assert_eq!(
            service["spec"]["gateways"][0], "alchemy/game-gateway",
            "{service}"
        );
    }
}

#[test]
fn istio_routes_attach_to_the_gateway_the_environment_names() {
    let yaml = format!(
        "{ROUTED}  prod: {{ runtime: kubernetes, gateway: {{ kind: istio, parent: istio-system/public }} }}\n"
    );
    let objects = objects(&yaml, "prod");
    assert!(of_kind(&objects, "Gateway").is_empty());
    for service in of_kind(&objects, "VirtualService") {
        assert_eq!(service["spec"]["gateways"][0], "istio-system/public");
        assert_eq!(service["spec"]["hosts"][0], "*");
    }
}
