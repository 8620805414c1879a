//! The monitoring files read back as data, with the seed documents' thresholds.

use berth_core::source::SourceFile;
use serde_json::Value;

mod examples;
use examples::example_project;

fn files(example: &str, environment: &str) -> Vec<berth_render::File> {
    let project = example_project(example);
    berth_render::monitoring(project.ecosystem(Some(environment)).unwrap())
}

fn yaml(text: &str) -> Value {
    berth_core::yaml::parse(&SourceFile::new("rendered.yaml", text))
        .unwrap()
        .to_json()
}

#[test]
fn alert_rules_carry_the_documented_thresholds() {
    let rendered = files("openpolicy", "production");
    let rules = yaml(&rendered[0].text);
    let rules = rules["groups"][0]["rules"].as_array().unwrap();
    let find = |name: &str| rules.iter().find(|r| r["alert"] == name).unwrap();
    let down = find("ServiceDown");
    assert_eq!(
        (down["for"].as_str(), down["labels"]["severity"].as_str()),
        (Some("1m"), Some("critical"))
    );
    assert!(
        find("HighErrorRate")["expr"]
            .as_str()
            .unwrap()
            .ends_with("> 0.05")
    );
    assert_eq!(find("HighErrorRate")["for"], "5m");
    assert!(
        find("SlowResponses")["expr"]
            .as_str()
            .unwrap()
            .ends_with("> 2")
    );
    assert_eq!(find("MemoryNearLimit")["for"], "10m");
    assert!(
        find("MemoryNearLimit")["expr"]
            .as_str()
            .unwrap()
            .ends_with("> 0.9")
    );
    assert_eq!(
        rules
            .iter()
            .filter(|r| r["labels"]["severity"] == "warning")
            .count(),
        4
    );
}

#[test]
fn the_scrape_configuration_keeps_annotated_pods_of_every_namespace() {
    let rendered = files("runeframe", "production");
    let scrape = yaml(&rendered[1].text);
    let config = &scrape["scrape_configs"][0];
    assert_eq!(
        config["relabel_configs"][0]["source_labels"][0],
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape"
    );
    let namespaces: Vec<&str> = config["kubernetes_sd_configs"][0]["namespaces"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        namespaces.contains(&"alchemy") && namespaces.contains(&"infrastructure"),
        "{namespaces:?}"
    );
}

#[test]
fn the_dashboard_has_four_panels_per_service() {
    let rendered = files("quickstart", "production");
    let dashboard: Value = serde_json::from_str(&rendered[2].text).unwrap();
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 4 * 4);
    assert!(
        titles.contains(&"api: error rate") && titles.contains(&"web: restarts"),
        "{titles:?}"
    );
}

/// Every alert expression runs in Prometheus' own rule tester on synthetic
/// series: the alerts that must fire do, with the service named, and the others
/// stay quiet.
#[test]
fn the_alert_rules_fire_on_the_series_they_watch_in_promtool() {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        // Straight to stderr, past the harness's capture; in CI it must run.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "NOT RUN in CI: promtool is not installed"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"NOT RUN: promtool (Debian's prometheus) is not installed\n",
        );
        return;
    }
    let rendered = files("openpolicy", "production");
    let dir = std::env::temp_dir().join(format!("berth-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yaml"), &rendered[0].text).unwrap();
    let (ns, eco) = ("openpolicy-platform", "openpolicy");
    let tests = format!(
        r#"rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{ecosystem="{eco}",service="web"}}'
        values: '0x15'
      - series: 'up{{ecosystem="{eco}",service="admin"}}'
        values: '1x15'
      - series: 'container_memory_working_set_bytes{{namespace="{ns}",pod="web-1",container="web"}}'
        values: '950x15'
      - series: 'kube_pod_container_resource_limits{{namespace="{ns}",pod="web-1",container="web",resource="memory"}}'
        values: '1000x15'
      - series: 'container_memory_working_set_bytes{{namespace="{ns}",pod="admin-1",container="admin"}}'
        values: '500x15'
      - series: 'kube_pod_container_resource_limits{{namespace="{ns}",pod="admin-1",container="admin",resource="memory"}}'
        values: '1000x15'
      - series: 'http_requests_total{{ecosystem="{eco}",service="web",code="200"}}'
        values: '0+90x15'
      - series: 'http_requests_total{{ecosystem="{eco}",service="web",code="500"}}'
        values: '0+10x15'
      - series: 'http_requests_total{{ecosystem="{eco}",service="admin",code="200"}}'
        values: '0+100x15'
      - series: 'http_requests_total{{ecosystem="{eco}",service="admin",code="500"}}'
        values: '0+3x15'
      - series: 'http_request_duration_seconds_bucket{{ecosystem="{eco}",service="web",le="1"}}'
        values: '0+1x15'
      - series: 'http_request_duration_seconds_bucket{{ecosystem="{eco}",service="web",le="4"}}'
        values: '0+100x15'
      - series: 'http_request_duration_seconds_bucket{{ecosystem="{eco}",service="web",le="+Inf"}}'
        values: '0+100x15'
      - series: 'http_request_duration_seconds_bucket{{ecosystem="{eco}",service="admin",le="0.5"}}'
        values: '0+100x15'
      - series: 'http_request_duration_seconds_bucket{{ecosystem="{eco}",service="admin",le="+Inf"}}'
        values: '0+100x15'
    alert_rule_test:
      - eval_time: 12m
        alertname: ServiceDown
        exp_alerts:
          - exp_labels: {{ severity: critical, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web is down }}
      - eval_time: 12m
        alertname: MemoryNearLimit
        exp_alerts:
          - exp_labels: {{ severity: critical, ecosystem: {eco}, service: web, namespace: {ns}, pod: web-1, container: web }}
            exp_annotations: {{ summary: web uses over 90% of its memory limit }}
      - eval_time: 12m
        alertname: HighErrorRate
        exp_alerts:
          - exp_labels: {{ severity: critical, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web answers more than 5% errors }}
      - eval_time: 12m
        alertname: SlowResponses
        exp_alerts:
          - exp_labels: {{ severity: critical, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web p95 latency is above 2s }}
      - eval_time: 12m
        alertname: ServiceDownBriefly
        exp_alerts:
          - exp_labels: {{ severity: warning, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web is down }}
      - eval_time: 12m
        alertname: RaisedErrorRate
        exp_alerts:
          - exp_labels: {{ severity: warning, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web answers more than 2% errors }}
          - exp_labels: {{ severity: warning, ecosystem: {eco}, service: admin }}
            exp_annotations: {{ summary: admin answers more than 2% errors }}
      - eval_time: 12m
        alertname: SlowerResponses
        exp_alerts:
          - exp_labels: {{ severity: warning, ecosystem: {eco}, service: web }}
            exp_annotations: {{ summary: web p95 latency is above 1s }}
      - eval_time: 12m
        alertname: MemoryHigh
        exp_alerts:
          - exp_labels: {{ severity: warning, ecosystem: {eco}, service: web, namespace: {ns}, pod: web-1, container: web }}
            exp_annotations: {{ summary: web uses over 80% of its memory limit }}
      - eval_time: 3m
        alertname: MemoryNearLimit
        exp_alerts: []
"#
    );
    std::fs::write(dir.join("tests.yaml"), tests).unwrap();
    let output = std::process::Command::new("promtool")
        .args(["test", "rules", "tests.yaml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Only what declares metrics is scraped, on the port and path it declares: an
/// image that serves none (MinIO at /metrics) would show as down for ever.
#[test]
fn only_services_that_declare_metrics_are_scraped() {
    let yaml = "name: m\nservices:\n  api: { image: 'x/api:1', ports: { http: 8080 }, metrics: /metrics }\n  minio: { image: 'minio/minio:1', ports: { api: 9000, console: 9001 }, metrics: { port: api, path: /minio/v2/metrics/cluster } }\n  plain: { image: 'x/plain:1', ports: { http: 8081 } }\nenvironments:\n  prod: { runtime: kubernetes }\n";
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    let objects = berth_render::objects(project.ecosystem(Some("prod")).unwrap());
    let annotations = |name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)
            .unwrap()["spec"]["template"]["metadata"]["annotations"]
            .clone()
    };
    assert_eq!(annotations("api")["prometheus.io/path"], "/metrics");
    assert_eq!(annotations("minio")["prometheus.io/port"], "9000");
    assert_eq!(
        annotations("minio")["prometheus.io/path"],
        "/minio/v2/metrics/cluster"
    );
    assert!(annotations("plain").is_null());
}
