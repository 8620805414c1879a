//! Every Kubernetes object berth renders, for every example in every environment,
//! validated against Kubernetes' published OpenAPI v3 documents (release 1.36, kept
//! beside this test in `k8s-openapi/`): required fields, types, enums — and no field
//! the schema does not know, which the documents themselves do not forbid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

mod examples;
use examples::{every_example, example_project};

fn openapi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s-openapi/v1.36")
}

/// Forbids unknown fields: every object schema that lists its properties gets
/// `additionalProperties: false`.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// A validator for each `apiVersion/kind`, compiled on first use.
struct Schemas {
    documents: Vec<Value>,
    by_kind: HashMap<String, (usize, String)>,
    compiled: HashMap<String, jsonschema::Validator>,
}

impl Schemas {
    fn load(dir: &Path) -> Schemas {
        let mut documents = Vec::new();
        let mut by_kind = HashMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let mut document: Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            strict(&mut document["components"]);
            for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
                for gvk in schema["x-kubernetes-group-version-kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let group = gvk["group"].as_str().unwrap();
                    let version = gvk["version"].as_str().unwrap();
                    let api_version = if group.is_empty() {
                        version.to_owned()
                    } else {
                        format!("{group}/{version}")
                    };
                    by_kind.insert(
                        format!("{api_version}/{}", gvk["kind"].as_str().unwrap()),
                        (documents.len(), name.clone()),
                    );
                }
            }
            documents.push(document);
        }
        Schemas {
            documents,
            by_kind,
            compiled: HashMap::new(),
        }
    }

    fn errors(&mut self, object: &Value) -> Vec<String> {
        let key = format!(
            "{}/{}",
            object["apiVersion"].as_str().unwrap(),
            object["kind"].as_str().unwrap()
        );
        let Some((document, name)) = self.by_kind.get(&key).cloned() else {
            return vec![format!("no schema for {key}")];
        };
        let validator = self.compiled.entry(key).or_insert_with(|| {
            let root = json!({
                "$ref": format!("#/components/schemas/{name}"),
                "components": self.documents[document]["components"].clone(),
            });
            jsonschema::validator_for(&root).expect("the published schema compiles")
        });
        validator
            .iter_errors(object)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }
}

#[test]
fn every_rendered_object_is_valid_against_the_published_schemas() {
    let dir = openapi_dir();
    assert!(
        dir.is_dir(),
        "Kubernetes' OpenAPI documents are expected at {}",
        dir.display()
    );
    let mut schemas = Schemas::load(&dir);
    let mut checked = 0;
    for (example, project) in every_example() {
        for environment in project.environment_names() {
            for object in berth_render::objects(project.ecosystem(Some(environment)).unwrap()) {
                if object["apiVersion"].as_str().is_some_and(|v| {
                    v.starts_with("networking.istio.io/")
                        || v.starts_with("gateway.networking.k8s.io/")
                }) {
                    continue; // custom resources, checked below; Kubernetes publishes no schema for them
                }
                let errors = schemas.errors(&object);
                let name = format!(
                    "{example} -e {environment}: {} {}",
                    object["kind"], object["metadata"]["name"]
                );
                assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked} objects");
}

#[test]
fn an_unknown_field_is_caught() {
    let mut schemas = Schemas::load(&openapi_dir());
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "colour": "red"}});
    assert!(!schemas.errors(&object).is_empty());
}

#[test]
fn runeframe_routes_its_four_applications_through_an_istio_virtual_service() {
    let project = example_project("runeframe");
    let objects = berth_render::objects(project.ecosystem(Some("production")).unwrap());
    let services: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "VirtualService")
        .collect();
    let mut prefixes: Vec<(String, String)> = services
        .iter()
        .flat_map(|vs| vs["spec"]["http"].as_array().unwrap())
        .map(|rule| {
            let prefix = rule["match"][0]["uri"]["prefix"]
                .as_str()
                .unwrap()
                .to_owned();
            let host = rule["route"][0]["destination"]["host"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(rule["rewrite"]["uri"], "/", "{prefix} is rewritten to /");
            (prefix, host)
        })
        .collect();
    prefixes.sort();
    assert_eq!(
        prefixes,
        [
            (
                "/alchemy".to_owned(),
                "distillara.alchemy.svc.cluster.local".to_owned()
            ),
            (
                "/economy".to_owned(),
                "mercatrix.economy.svc.cluster.local".to_owned()
            ),
            (
                "/inventory".to_owned(),
                "hoardwell.communication.svc.cluster.local".to_owned()
            ),
            (
                "/worlds".to_owned(),
                "tapestry.world-building.svc.cluster.local".to_owned()
            ),
        ]
    );
    let mut namespaces: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    namespaces.sort();
    assert_eq!(
        namespaces,
        [
            "alchemy",
            "communication",
            "economy",
            "infrastructure",
            "runeframeos",
            "world-building"
        ]
    );
}

/// Gateway API is a custom resource too: its HTTPRoute is checked field by field
/// against the shape its v1 specification gives.
#[test]
fn a_gateway_api_environment_routes_through_an_http_route() {
    let project = berth_core::load_str(
        "berth.yaml",
        r#"
name: shop
services:
  api: { image: "api:1.0", ports: { http: 8080 }, routes: [{ prefix: /api, rewrite: / }] }
  web: { image: "web:1.0", ports: { http: 3000 }, routes: [/] }
environments:
  cluster:
    runtime: kubernetes
    gateway: { kind: http_route, host: shop.example.com, parent: infra/edge }
"#,
    )
    .unwrap();
    let objects = berth_render::objects(project.ecosystem(None).unwrap());
    let routes: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .collect();
    assert_eq!(routes.len(), 1);
    assert!(!objects.iter().any(|o| o["kind"] == "Ingress"));
    assert_eq!(
        routes[0],
        &json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": { "name": "shop-routes", "namespace": "shop" },
            "spec": {
                "parentRefs": [{ "name": "edge", "namespace": "infra" }],
                "hostnames": ["shop.example.com"],
                "rules": [
                    {
                        "matches": [{ "path": { "type": "PathPrefix", "value": "/api" } }],
                        "filters": [{
                            "type": "URLRewrite",
                            "urlRewrite": { "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": "/" } }
                        }],
                        "backendRefs": [{ "name": "api", "port": 8080 }]
                    },
                    {
                        "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                        "backendRefs": [{ "name": "web", "port": 3000 }]
                    }
                ]
            }
        })
    );
}

#[test]
fn a_store_outside_at_an_ip_is_a_service_with_an_endpoint_slice() {
    let project = berth_core::load_str(
        "berth.yaml",
        r#"
name: shop
services:
  cache: { kind: redis }
  db: { kind: postgres }
  api: { image: "api:1.0", ports: { http: 8080 }, depends_on: [cache, db] }
environments:
  cluster:
    runtime: kubernetes
    external: { cache: "10.0.4.20:6379", db: "db.example.com:5432" }
"#,
    )
    .unwrap();
    let objects = berth_render::objects(project.ecosystem(None).unwrap());
    let mut schemas = Schemas::load(&openapi_dir());
    for object in &objects {
        let errors = schemas.errors(object);
        assert!(errors.is_empty(), "{object}:\n{}", errors.join("\n"));
    }
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let cache = find("Service", "cache");
    assert!(cache["spec"].get("selector").is_none() && cache["spec"].get("type").is_none());
    let slice = find("EndpointSlice", "cache-external");
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "cache"
    );
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"][0]["addresses"], json!(["10.0.4.20"]));
    assert_eq!(
        slice["ports"][0],
        json!({ "name": "main", "port": 6379, "protocol": "TCP" })
    );
    assert_eq!(
        find("Service", "db")["spec"]["externalName"],
        "db.example.com"
    );
    assert!(!objects.iter().any(|o| o["kind"] == "StatefulSet"));
}

#[test]
fn a_scheduled_backup_with_an_object_store_takes_then_sends() {
    let project = berth_core::load_str(
        "berth.yaml",
        r#"
name: shop
services:
  db: { kind: postgres, backup: { retention: 3 } }
environments:
  cluster:
    runtime: kubernetes
    backups: { to: s3://shop-backups/team, region: eu-central-1 }
"#,
    )
    .unwrap();
    let objects = berth_render::objects(project.ecosystem(None).unwrap());
    let cron_job = objects
        .iter()
        .find(|o| o["kind"] == "CronJob")
        .expect("a CronJob");
    let errors = Schemas::load(&openapi_dir()).errors(cron_job);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let pod = &cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["initContainers"][0]["name"], "backup", "taken first");
    let upload = &pod["containers"][0];
    assert_eq!(upload["name"], "upload");
    let script = upload["command"][2].as_str().unwrap();
    assert!(
        script.contains("to='s3://shop-backups/team/cluster/db'"),
        "{script}"
    );
    assert!(
        script.contains("addressing_style virtual"),
        "AWS by virtual host: {script}"
    );
    assert!(!script.contains("--endpoint-url"), "{script}");
    assert_eq!(
        upload["env"],
        json!([
            { "name": "AWS_REGION", "value": "eu-central-1" },
            { "name": "AWS_ACCESS_KEY_ID", "valueFrom": { "secretKeyRef": { "name": "shop-backups", "key": "AWS_ACCESS_KEY_ID" } } },
            { "name": "AWS_SECRET_ACCESS_KEY", "valueFrom": { "secretKeyRef": { "name": "shop-backups", "key": "AWS_SECRET_ACCESS_KEY" } } }
        ])
    );
}
