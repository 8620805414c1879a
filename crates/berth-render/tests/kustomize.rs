//! Every example's Kustomize tree, built by the real Kustomize inside kubectl:
//! each overlay must give, object for object, what `--to kubernetes` renders
//! for its environment.

use std::path::Path;
use std::process::Command;

use berth_core::model::Runtime;
use berth_core::source::SourceFile;
use serde_json::Value;

mod examples;
use examples::{every_example, example_project};

fn write(dir: &Path, files: &[berth_render::File]) {
    let _ = std::fs::remove_dir_all(dir);
    for file in files {
        let path = dir.join(&file.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.text).unwrap();
    }
}

/// `kubectl kustomize DIR`, read back as objects.
fn build(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .split("\n---\n")
        .map(|document| {
            berth_core::yaml::parse(&SourceFile::new("built.yaml", document))
                .unwrap()
                .to_json()
        })
        .collect()
}

fn sorted(mut objects: Vec<Value>) -> Vec<Value> {
    let identity = |o: &Value| {
        [
            "/apiVersion",
            "/kind",
            "/metadata/namespace",
            "/metadata/name",
        ]
        .map(|p| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        })
    };
    objects.sort_by_key(identity);
    objects
}

/// Renders `project`'s tree into a scratch folder named `name` and builds each
/// overlay; returns how many were built.
fn assert_overlays_build(name: &str, project: &berth_core::Project) -> usize {
    let on_kubernetes: Vec<_> = project.ecosystems_on(Runtime::Kubernetes).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kustomize-{name}"));
    write(&dir, &berth_render::kustomize(&on_kubernetes));
    for ecosystem in &on_kubernetes {
        let environment = &ecosystem.environment_name;
        let built = sorted(build(&dir.join("overlays").join(environment)));
        let rendered = sorted(berth_render::objects(ecosystem));
        assert_eq!(
            built.len(),
            rendered.len(),
            "{name} {environment}: object count"
        );
        for (built, rendered) in built.iter().zip(&rendered) {
            assert_eq!(built, rendered, "{name} {environment}");
        }
    }
    on_kubernetes.len()
}

fn kubectl_is_missing() -> bool {
    let missing = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err();
    if missing {
        // Straight to stderr, past the harness's capture; in CI it must run.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "NOT RUN in CI: kubectl is not installed"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"NOT RUN: kubectl is not installed\n",
        );
    }
    missing
}

#[test]
fn every_overlay_of_every_example_builds_to_what_kubernetes_renders() {
    if kubectl_is_missing() {
        return;
    }
    let mut overlays = 0;
    for (example, project) in every_example() {
        overlays += assert_overlays_build(example, &project);
    }
    assert!(overlays >= 9, "only {overlays} overlays were built");
}

/// Services in namespaces of their own cannot all be moved by kustomize's
/// `namespace:`; their overlays patch each object's namespace instead.
#[test]
fn overlays_of_an_ecosystem_in_several_namespaces_build_too() {
    if kubectl_is_missing() {
        return;
    }
    let project = berth_core::load_str(
        "berth.yaml",
        r#"
name: spread
services:
  store: { kind: redis, image: "redis:7.2", namespace: data }
  api:
    image: "api:1.0"
    ports: { http: 8080 }
    env: { STORE: "${store.url}" }
    depends_on: { store: healthy }
  web: { image: "web:1.0", namespace: front, ports: { http: 3000 }, depends_on: [api], routes: [/] }
environments:
  staging: { runtime: kubernetes }
  production:
    runtime: kubernetes
    namespace: spread-prod
    production: true
    external: { store: "10.0.0.7:6379" }
    services:
      api: { replicas: 3, autoscale: { min: 3, max: 6, cpu: 70 } }
"#,
    )
    .unwrap();
    assert_eq!(assert_overlays_build("spread", &project), 2);
}

#[test]
fn an_overlay_holds_only_what_differs_from_base() {
    let project = example_project("srvthreds");
    let on_kubernetes: Vec<_> = project.ecosystems_on(Runtime::Kubernetes).collect();
    let files = berth_render::kustomize(&on_kubernetes);
    let text = |name: &str| {
        &files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .text
    };
    assert!(text("base/kustomization.yaml").contains("- engine.yaml"));
    let prod = text("overlays/prod/kustomization.yaml");
    assert!(prod.contains("namespace: srvthreds-prod"), "{prod}");
    let engine = text("overlays/prod/patches/deployment-engine.yaml");
    assert!(
        engine.contains("path: /spec/replicas\n  value: 5"),
        "{engine}"
    );
    assert!(
        !engine.contains("/spec/template/spec/containers/0/image\n"),
        "the image is the same everywhere: {engine}"
    );
    assert!(
        files
            .iter()
            .all(|f| f.text.starts_with("# Generated by berth"))
    );
}
