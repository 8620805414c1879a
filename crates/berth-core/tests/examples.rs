//! Every shipped example loads, checks and plans in every environment, and
//! validates against the JSON Schema.

use std::path::{Path, PathBuf};

use berth_core::{check, load_path, plan, schema, yaml};

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path().join("berth.yaml"))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn the_quickstart_and_all_four_seed_ecosystems_ship() {
    let names: Vec<String> = examples()
        .iter()
        .map(|p| {
            p.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "openpolicy",
            "quickstart",
            "runeframe",
            "srvthreds",
            "symbi"
        ]
    );
}

#[test]
fn every_example_loads_checks_and_plans_in_every_environment() {
    for path in examples() {
        let project = load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for environment in project.environment_names() {
            let ecosystem = project.ecosystem(Some(environment)).unwrap();
            let report = check::check(ecosystem);
            assert!(!report.services.is_empty());
            let selection = plan::select(ecosystem, &[]).unwrap();
            let plan = plan::plan(ecosystem, &selection);
            let planned = plan.services().count() + plan.external.len();
            assert_eq!(
                planned,
                ecosystem.services.len(),
                "{} -e {environment}",
                path.display()
            );
        }
    }
}

#[test]
fn every_example_validates_against_the_schema() {
    let schema = schema::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = berth_core::source::SourceFile::new(path.display().to_string(), text);
        let document = yaml::parse(&file).unwrap().to_json();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let schema = schema::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = serde_json::json!({"name": "x", "services": {"a": {"image": "a:1", "helth": {}}}});
    assert!(!validator.is_valid(&bad));
    let bad = serde_json::json!({"name": "x", "services": {"a": {"kind": "postgresql"}}});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn openpolicy_scores_as_its_team_reported() {
    let path = examples()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("openpolicy"))
        .unwrap();
    let project = load_path(&path).unwrap();
    for environment in project.environment_names() {
        let report = check::check(project.ecosystem(Some(environment)).unwrap());
        assert_eq!(
            report.score(),
            "24/25 services compliant (96%)",
            "in {environment}"
        );
        let failing: Vec<&str> = report
            .services
            .iter()
            .filter(|s| !s.compliant())
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(failing, ["scraper-service"]);
    }
}

#[test]
fn srvthreds_keeps_its_databases_outside_minikube() {
    let path = examples()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("srvthreds"))
        .unwrap();
    let project = load_path(&path).unwrap();
    let minikube = project.ecosystem(Some("minikube")).unwrap();
    let selection = plan::select(minikube, &["k8s_minikube".to_owned()]).unwrap();
    let plan = plan::plan(minikube, &selection);
    let external: Vec<(&str, &str)> = plan
        .external
        .iter()
        .map(|e| (e.service.as_str(), e.address.as_str()))
        .collect();
    assert_eq!(
        external,
        [
            ("mongo", "host.minikube.internal:27017"),
            ("redis", "host.minikube.internal:6379")
        ]
    );
    assert_eq!(
        plan.pre,
        [berth_core::model::Command::Shell(
            "infrastructure/k8s/scripts/setup-minikube.sh".into()
        )]
    );
    let local = project.ecosystem(Some("local")).unwrap();
    assert!(
        plan::select(local, &["k8s_minikube".to_owned()]).is_err(),
        "k8s_minikube is for minikube only"
    );
}
