//! The CI workflow reads back with the jobs the seeds' pipelines have.

use std::path::Path;

use berth_core::source::SourceFile;
use serde_json::Value;

fn workflow(example: &str) -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{example}/berth.yaml"));
    let project = berth_core::load_path(&path).unwrap();
    let environments: Vec<&berth_core::Ecosystem> = project.ecosystems().collect();
    let files = berth_render::ci(project.ecosystem(None).unwrap(), &environments);
    assert_eq!(files[0].name, ".github/workflows/deploy.yml");
    berth_core::yaml::parse(&SourceFile::new("deploy.yml", files[0].text.as_str()))
        .unwrap()
        .to_json()
}

#[test]
fn srvthreds_tests_builds_deploys_to_staging_and_to_production_on_tags() {
    let workflow = workflow("srvthreds");
    let jobs = workflow["jobs"].as_object().unwrap();
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["check", "build", "deploy-staging", "deploy-production"]
    );
    assert_eq!(workflow["on"]["push"]["tags"][0], "v*");
    let targets: Vec<&str> = jobs["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["bootstrap", "engine", "session-agent", "persistence-agent"]
    );
    assert_eq!(jobs["deploy-staging"]["environment"], "staging");
    assert_eq!(jobs["deploy-production"]["environment"], "prod");
    assert_eq!(
        jobs["deploy-production"]["if"],
        "startsWith(github.ref, 'refs/tags/v')"
    );
    let steps: Vec<&str> = jobs["deploy-production"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        steps.contains(&"berth render -e prod --to kubernetes --image bootstrap=ghcr.io/${{ github.repository_owner }}/srvthreds-bootstrap:${{ github.sha }} --image engine=ghcr.io/${{ github.repository_owner }}/srvthreds-engine:${{ github.sha }} --image session-agent=ghcr.io/${{ github.repository_owner }}/srvthreds-session-agent:${{ github.sha }} --image persistence-agent=ghcr.io/${{ github.repository_owner }}/srvthreds-persistence-agent:${{ github.sha }} | kubectl apply -f -"),
        "the images the build job pushed: {steps:?}"
    );
    assert!(
        steps.contains(&"kubectl -n srvthreds-prod delete job bootstrap --ignore-not-found --wait"),
        "a Job cannot change in place: {steps:?}"
    );
    let checked: Vec<&str> = jobs["check"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .filter(|run| run.starts_with("berth check"))
        .collect();
    assert_eq!(checked.len(), 6, "every environment: {checked:?}");
    assert!(
        jobs["check"]["steps"][1]["run"]
            .as_str()
            .unwrap()
            .starts_with("cargo install --locked --git https://"),
        "berth installed from its repository"
    );
    assert!(
        steps
            .contains(&"kubectl -n srvthreds-prod rollout status deployment/engine --timeout=300s"),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains("curl -fsS http://engine.srvthreds-prod.svc:3001/ready")),
        "{steps:?}"
    );
}

#[test]
fn an_ecosystem_without_builds_deploys_straight_after_the_check() {
    let workflow = workflow("openpolicy");
    let jobs = workflow["jobs"].as_object().unwrap();
    assert!(!jobs.contains_key("build"));
    assert_eq!(jobs["deploy-production"]["needs"][0], "check");
}

#[test]
fn nothing_from_berth_yaml_reaches_a_shell_or_an_expression_unquoted() {
    let yaml = "name: x\nservices:\n  api:\n    image: 'x:1'\n    build: { context: './${{ secrets.TOKEN }}', target: api }\n    ports: { http: 8080 }\n    health: { readiness: \"/ready$(id)'${{ github.event.pull_request.title }}\" }\nenvironments:\n  staging: { runtime: kubernetes }\n  prod: { runtime: kubernetes, production: true }\n";
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    let environments: Vec<&berth_core::Ecosystem> = project.ecosystems().collect();
    let files = berth_render::ci(project.ecosystem(None).unwrap(), &environments);
    let text = &files[0].text;
    let workflow = berth_core::yaml::parse(&SourceFile::new("deploy.yml", text.as_str()))
        .unwrap()
        .to_json();
    let steps = workflow["jobs"]["deploy-staging"]["steps"]
        .as_array()
        .unwrap();
    let smoke = steps
        .iter()
        .find(|s| s["name"] == "Smoke-check api")
        .unwrap()["run"]
        .as_str()
        .unwrap();
    assert!(
        smoke.ends_with(
            "curl -fsS 'http://api.x.svc:8080/ready$(id)'\\''${{ '${{' }} github.event.pull_request.title }}'"
        ),
        "{smoke}"
    );
    // Once the escapes are taken out, no expression of berth.yaml's is left.
    let unescaped = text.replace("${{ '${{' }}", "(escaped)");
    assert!(unescaped.contains("(escaped) secrets.TOKEN"), "{text}");
    assert!(!unescaped.contains("${{ secrets.TOKEN"), "{text}");
    assert!(!unescaped.contains("${{ github.event"), "{text}");
}

/// The rules of GitHub's workflow syntax that a rendered workflow could break:
/// every job runs somewhere and needs only jobs that exist; every step either
/// runs a command or uses an action, `with` only for an action; every
/// expression is closed and reads only contexts a job has.
#[test]
fn every_example_renders_a_workflow_github_accepts() {
    for example in [
        "quickstart",
        "srvthreds",
        "symbi",
        "openpolicy",
        "runeframe",
    ] {
        let workflow = workflow(example);
        assert!(
            workflow["name"].is_string() && workflow["on"].is_object(),
            "{example}"
        );
        let jobs = workflow["jobs"].as_object().unwrap();
        for (name, job) in jobs {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{example}: job {name}"
            );
            assert!(job["runs-on"].is_string(), "{example}: {name} runs nowhere");
            let needs: Vec<&str> = match &job["needs"] {
                serde_json::Value::Null => vec![],
                serde_json::Value::String(one) => vec![one.as_str()],
                many => many
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect(),
            };
            for need in needs {
                assert!(
                    jobs.contains_key(need),
                    "{example}: {name} needs a job `{need}` that is not there"
                );
            }
            for step in job["steps"].as_array().unwrap() {
                let (run, uses) = (step["run"].is_string(), step["uses"].is_string());
                assert!(
                    run != uses,
                    "{example}: {name}: a step runs a command or uses an action: {step}"
                );
                assert!(
                    step["with"].is_null() || uses,
                    "{example}: {name}: `with` without an action: {step}"
                );
                let text = step.to_string();
                for (at, _) in text.match_indices("${{") {
                    let expression =
                        &text[at + 3..text[at..].find("}}").map(|end| at + end).expect("closed")];
                    let context = expression
                        .trim()
                        .split(['.', ' ', '\''])
                        .next()
                        .unwrap_or_default();
                    assert!(
                        ["github", "secrets", "matrix", "needs", "env", ""].contains(&context),
                        "{example}: {name}: `${{{{{expression}}}}}` reads no context a job has"
                    );
                }
            }
        }
    }
}
