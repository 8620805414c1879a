//! Monitoring: Prometheus alert rules with the thresholds the seed documents set,
//! a scrape configuration for the pods berth annotates, and a Grafana dashboard
//! with request rate, error rate, latency and restarts per service.

use berth_core::Ecosystem;
use berth_core::promql::SERVICE_METRICS;
use berth_core::yaml::to_yaml;
use serde_json::{Value, json};

use crate::{File, header};

/// (name, severity, PromQL condition, for, summary): critical first, then the
/// OpenPolicy document's warning levels.
const ALERTS: [(&str, &str, &str, &str, &str); 8] = [
    (
        "ServiceDown",
        "critical",
        "up{ecosystem=\"E\"} == 0",
        "1m",
        "{{ $labels.service }} is down",
    ),
    (
        "HighErrorRate",
        "critical",
        "ERRORS > 0.05",
        "5m",
        "{{ $labels.service }} answers more than 5% errors",
    ),
    (
        "SlowResponses",
        "critical",
        "P95 > 2",
        "5m",
        "{{ $labels.service }} p95 latency is above 2s",
    ),
    (
        "MemoryNearLimit",
        "critical",
        "MEMORY > 0.9",
        "10m",
        "{{ $labels.service }} uses over 90% of its memory limit",
    ),
    (
        "ServiceDownBriefly",
        "warning",
        "up{ecosystem=\"E\"} == 0",
        "30s",
        "{{ $labels.service }} is down",
    ),
    (
        "RaisedErrorRate",
        "warning",
        "ERRORS > 0.02",
        "5m",
        "{{ $labels.service }} answers more than 2% errors",
    ),
    (
        "SlowerResponses",
        "warning",
        "P95 > 1",
        "5m",
        "{{ $labels.service }} p95 latency is above 1s",
    ),
    (
        "MemoryHigh",
        "warning",
        "MEMORY > 0.8",
        "10m",
        "{{ $labels.service }} uses over 80% of its memory limit",
    ),
];

fn expression(template: &str, ecosystem: &Ecosystem) -> String {
    let selector = format!("ecosystem=\"{}\"", ecosystem.name);
    template
        .replace(
            "ERRORS",
            &SERVICE_METRICS.error_ratio(&selector, "5m", "service"),
        )
        .replace("P95", &SERVICE_METRICS.p95(&selector, "5m", "service"))
        .replace("MEMORY", &memory(ecosystem))
        .replace("\"E\"", &format!("\"{}\"", ecosystem.name))
}

/// Each container's working set over its memory limit. Neither the kubelet's
/// cAdvisor series nor kube-state-metrics' carry berth's labels, so the
/// containers are found by namespace and container name (the service's), and
/// the result is labelled with the service.
fn memory(ecosystem: &Ecosystem) -> String {
    let namespaces = namespaces(ecosystem).join("|");
    let containers: Vec<&str> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| {
            !ecosystem.is_external(name) && service.resources.memory_limit.is_some()
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let selector = format!(
        "namespace=~\"{namespaces}\",container=~\"{}\"",
        containers.join("|")
    );
    format!(
        "label_replace(max by (namespace, pod, container) (container_memory_working_set_bytes{{{selector}}}) / max by (namespace, pod, container) (kube_pod_container_resource_limits{{{selector},resource=\"memory\"}}), \"service\", \"$1\", \"container\", \"(.+)\")"
    )
}

fn rules(ecosystem: &Ecosystem) -> Value {
    let rules: Vec<Value> = ALERTS
        .iter()
        .map(|(name, severity, condition, wait, summary)| {
            json!({
                "alert": name,
                "expr": expression(condition, ecosystem),
                "for": wait,
                "labels": {"severity": severity, "ecosystem": ecosystem.name},
                "annotations": {"summary": summary},
            })
        })
        .collect();
    json!({"groups": [{"name": format!("{}.rules", ecosystem.name), "rules": rules}]})
}

/// Pods with `prometheus.io/scrape: "true"`, on the port and path they announce,
/// labelled with their service, ecosystem and revision (which a canary's
/// analysis tells the canary's pods by).
fn scrape(ecosystem: &Ecosystem) -> Value {
    json!({
        "global": {"scrape_interval": "15s"},
        "rule_files": ["prometheus-rules.yaml"],
        "scrape_configs": [{
            "job_name": ecosystem.name,
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": namespaces(ecosystem)}}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "action": "keep", "regex": "true"},
                {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"], "action": "replace", "target_label": "__metrics_path__", "regex": "(.+)"},
                {"source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"], "action": "replace", "regex": "([^:]+)(?::\\d+)?;(\\d+)", "replacement": "$1:$2", "target_label": "__address__"},
                {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "target_label": "service"},
                {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"], "target_label": "ecosystem"},
                {"source_labels": ["__meta_kubernetes_pod_label_berth_dev_revision"], "target_label": "revision"},
            ],
        }],
    })
}

fn namespaces(ecosystem: &Ecosystem) -> Vec<String> {
    let mut namespaces = vec![ecosystem.namespace().to_owned()];
    for service in ecosystem.services.values() {
        if let Some(namespace) = &service.namespace
            && !namespaces.contains(namespace)
        {
            namespaces.push(namespace.clone());
        }
    }
    namespaces
}

/// One row per service: request rate, error rate, p95 latency, restarts.
fn dashboard(ecosystem: &Ecosystem) -> Value {
    let name = &ecosystem.name;
    let mut panels = Vec::new();
    let services = ecosystem
        .services
        .keys()
        .filter(|s| !ecosystem.is_external(s));
    for (row, service) in services.enumerate() {
        let selector = format!("ecosystem=\"{name}\",service=\"{service}\"");
        let queries = [
            (
                "requests per second",
                SERVICE_METRICS.request_rate(&selector, "5m"),
            ),
            (
                "error rate",
                SERVICE_METRICS.error_ratio(&selector, "5m", ""),
            ),
            ("p95 latency (s)", SERVICE_METRICS.p95(&selector, "5m", "")),
            (
                "restarts",
                format!(
                    "sum(kube_pod_container_status_restarts_total{{namespace=~\"{}\",container=\"{service}\"}})",
                    namespaces(ecosystem).join("|")
                ),
            ),
        ];
        for (column, (title, expr)) in queries.into_iter().enumerate() {
            panels.push(json!({
                "id": panels.len() + 1,
                "type": "timeseries",
                "title": format!("{service}: {title}"),
                "gridPos": {"h": 6, "w": 6, "x": column * 6, "y": row * 6},
                "targets": [{"expr": expr, "refId": "A"}],
            }));
        }
    }
    json!({
        "title": format!("{name} ({})", ecosystem.environment_name),
        "uid": format!("berth-{name}"),
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    })
}

pub fn monitoring(ecosystem: &Ecosystem) -> Vec<File> {
    let yaml = |value: &Value| format!("{}{}", header(ecosystem), to_yaml(value));
    vec![
        File {
            name: "prometheus-rules.yaml".into(),
            text: yaml(&rules(ecosystem)),
        },
        File {
            name: "prometheus.yaml".into(),
            text: yaml(&scrape(ecosystem)),
        },
        File {
            name: "grafana-dashboard.json".into(),
            text: serde_json::to_string_pretty(&dashboard(ecosystem)).expect("serializes") + "\n",
        },
    ]
}
