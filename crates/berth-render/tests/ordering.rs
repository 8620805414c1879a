//! `kubectl apply` creates every object at once; init containers make each pod
//! start only once what it depends on takes connections.

fn init_containers(yaml: &str, service: &str) -> Vec<serde_json::Value> {
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    let objects = berth_render::objects(project.ecosystem(Some("prod")).unwrap());
    let workload = objects
        .iter()
        .find(|o| {
            ["Deployment", "StatefulSet", "Job"].contains(&o["kind"].as_str().unwrap())
                && o["metadata"]["name"] == service
        })
        .unwrap();
    workload["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const YAML: &str = "name: shop\nservices:\n  db: { kind: postgres, namespace: data }\n  migrate: { kind: job, image: 'x/m:1', depends_on: { db: healthy } }\n  api: { image: 'x/api:1', ports: { http: 8080 }, health: { readiness: /ready }, depends_on: { db: healthy, migrate: completed, billing: started } }\n  billing: { image: 'x/b:1', ports: { http: 8081 } }\n  web: { image: 'x/web:1', depends_on: { api: healthy } }\nenvironments:\n  prod: { runtime: kubernetes, external: { billing: 'billing.example.com:443' } }\n";

#[test]
fn pods_wait_for_the_services_they_depend_on() {
    let api = init_containers(YAML, "api");
    assert_eq!(api.len(), 1, "the database only: {api:?}");
    assert_eq!(api[0]["name"], "wait-for-db");
    assert_eq!(api[0]["image"], "busybox:1.36.1");
    let command = api[0]["command"][2].as_str().unwrap();
    assert!(
        command.starts_with("until nc -z -w 2 db.data.svc 5432;"),
        "{command}"
    );
    let web = init_containers(YAML, "web");
    assert!(
        web[0]["command"][2]
            .as_str()
            .unwrap()
            .contains("api.shop.svc 8080")
    );
    assert_eq!(init_containers(YAML, "migrate")[0]["name"], "wait-for-db");
}
