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
