//! A GitHub Actions workflow: check the standards, build the images, deploy to
//! staging with berth and smoke-check it, and deploy to production on version tags.

use berth_core::Ecosystem;
use berth_core::model::{Check, Kind, Runtime};
use berth_core::yaml::to_yaml;
use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::kubernetes::namespace_of;
use crate::{File, header};

/// The environment a workflow job deploys to: a Kubernetes one, by name, else by
/// whether it is production-like.
fn target<'a>(
    environments: &[&'a Ecosystem],
    names: &[&str],
    production: bool,
) -> Option<&'a Ecosystem> {
    let kubernetes = || {
        environments
            .iter()
            .copied()
            .filter(|e| e.environment.runtime == Runtime::Kubernetes)
    };
    kubernetes()
        .find(|e| names.contains(&e.environment_name.as_str()))
        .or_else(|| kubernetes().rfind(|e| e.environment.production == production))
}

/// A word for a `run:` line: as it is when the shell sees nothing special in it,
/// else in single quotes. GitHub evaluates `${{ }}` before the shell runs, so
/// every value from berth.yaml goes through [`literal`] as well.
fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+=,-".contains(c));
    if plain {
        literal(text)
    } else {
        literal(&format!("'{}'", text.replace('\'', r"'\''")))
    }
}

/// Text GitHub shows as it is: `${{` would open an expression, so it is written
/// as an expression that yields it.
fn literal(text: &str) -> String {
    text.replace("${{", "${{ '${{' }}")
}

/// berth from its own repository: the CLI is not published on crates.io.
fn install() -> Value {
    json!({"name": "Install berth", "run": format!("cargo install --locked --git {} berth-cli", env!("CARGO_PKG_REPOSITORY"))})
}

/// The image CI builds for a service, tagged with the commit.
fn built_image(ecosystem: &str, service: &str) -> String {
    format!(
        "ghcr.io/${{{{ github.repository_owner }}}}/{ecosystem}-{service}:${{{{ github.sha }}}}"
    )
}

fn checkout() -> Value {
    json!({"uses": "actions/checkout@v4"})
}

/// Apply the rendered objects, wait for every rollout, then probe each service
/// from inside the cluster.
fn deploy_steps(ecosystem: &Ecosystem) -> Vec<Value> {
    let environment = word(&ecosystem.environment_name);
    let mut steps = vec![
        checkout(),
        install(),
        json!({"name": "Configure kubectl", "run": "mkdir -p ~/.kube && printf '%s' \"$KUBECONFIG_DATA\" > ~/.kube/config", "env": {"KUBECONFIG_DATA": "${{ secrets.KUBECONFIG }}"}}),
    ];
    // A Job's template cannot change once it exists: the old run goes first.
    let jobs: Vec<String> = ecosystem
        .services
        .iter()
        .filter(|(name, service)| service.kind == Kind::Job && !ecosystem.is_external(name))
        .map(|(name, service)| {
            let namespace = word(&namespace_of(ecosystem, service));
            format!("kubectl -n {namespace} delete job {name} --ignore-not-found --wait")
        })
        .collect();
    if !jobs.is_empty() {
        steps.push(json!({"name": "Replace the jobs", "run": jobs.join("\n")}));
    }
    // The images the build job pushed, not the tags written in berth.yaml.
    let images: String = ecosystem
        .services
        .iter()
        .filter(|(name, service)| service.build.is_some() && !ecosystem.is_external(name))
        .map(|(name, _)| format!(" --image {name}={}", built_image(&ecosystem.name, name)))
        .collect();
    steps.push(json!({"name": format!("Deploy to {environment}"), "run": format!("berth render -e {environment} --to kubernetes{images} | kubectl apply -f -")}));
    for (name, service) in &ecosystem.services {
        if ecosystem.is_external(name) || !service.is_long_running() || service.kind.is_data() {
            continue;
        }
        let namespace = namespace_of(ecosystem, service);
        let service_namespace = word(&namespace);
        steps.push(json!({
            "name": format!("Wait for {name}"),
            "run": format!("kubectl -n {service_namespace} rollout status deployment/{name} --timeout=300s"),
        }));
        let path = service
            .health
            .readiness
            .as_ref()
            .and_then(|probe| match &probe.check {
                Check::Http { path, .. } => Some(path.clone()),
                _ => None,
            });
        if let (Some(path), Some((_, port))) = (path, service.main_port()) {
            let url = word(&format!("http://{name}.{namespace}.svc:{port}{path}"));
            steps.push(json!({
                "name": format!("Smoke-check {name}"),
                "run": format!("kubectl -n {service_namespace} run smoke-{name} --rm -i --restart=Never --image=curlimages/curl:8.10.1 -- curl -fsS {url}"),
            }));
        }
    }
    steps
}

/// The workflow, given the ecosystem in each of its environments.
pub fn ci(ecosystem: &Ecosystem, environments: &[&Ecosystem]) -> Vec<File> {
    let name = &ecosystem.name;
    let mut jobs: IndexMap<String, Value> = IndexMap::new();
    let mut check = vec![checkout(), install()];
    for environment in environments {
        let name = word(&environment.environment_name);
        check.push(json!({"name": format!("Standards of {name}"), "run": format!("berth check -e {name}")}));
        check.push(
            json!({"name": format!("Plan of {name}"), "run": format!("berth plan -e {name}")}),
        );
    }
    jobs.insert(
        "check".into(),
        json!({"runs-on": "ubuntu-latest", "steps": check}),
    );
    let builds: Vec<Value> = ecosystem
        .services
        .iter()
        .filter_map(|(service, spec)| {
            let build = spec.build.as_ref()?;
            // One image per service, even where services share a Dockerfile.
            let image = format!("{name}-{service}");
            Some(json!({"service": service, "context": literal(&build.context), "target": literal(build.target.as_deref().unwrap_or_default()), "image": image}))
        })
        .collect();
    let mut deploy_needs = vec!["check"];
    if !builds.is_empty() {
        jobs.insert(
            "build".into(),
            json!({
                "needs": "check",
                "runs-on": "ubuntu-latest",
                "strategy": {"matrix": {"include": builds}},
                "steps": [checkout(),
                    {"uses": "docker/setup-buildx-action@v3"},
                    {"uses": "docker/login-action@v3", "with": {"registry": "ghcr.io", "username": "${{ github.actor }}", "password": "${{ secrets.GITHUB_TOKEN }}"}},
                    {"uses": "docker/build-push-action@v6", "with": {
                        "context": "${{ matrix.context }}",
                        "target": "${{ matrix.target }}",
                        "push": true,
                        "tags": "ghcr.io/${{ github.repository_owner }}/${{ matrix.image }}:${{ github.sha }}",
                        "cache-from": "type=gha",
                        "cache-to": "type=gha,mode=max"}}],
            }),
        );
        deploy_needs = vec!["build"];
    }
    if let Some(staging) = target(environments, &["staging"], false)
        .or_else(|| target(environments, &["staging"], true))
    {
        jobs.insert(
            "deploy-staging".into(),
            json!({"needs": deploy_needs, "if": "github.ref == 'refs/heads/main'", "runs-on": "ubuntu-latest",
                   "environment": staging.environment_name, "steps": deploy_steps(staging)}),
        );
    }
    if let Some(production) = target(environments, &["prod", "production"], true) {
        jobs.insert(
            "deploy-production".into(),
            json!({"needs": deploy_needs, "if": "startsWith(github.ref, 'refs/tags/v')", "runs-on": "ubuntu-latest",
                   "environment": production.environment_name, "steps": deploy_steps(production)}),
        );
    }
    let workflow = json!({
        "name": format!("{name}: check, build, deploy"),
        "on": {"push": {"branches": ["main"], "tags": ["v*"]}, "pull_request": {"branches": ["main"]}},
        "jobs": jobs,
    });
    vec![File {
        name: ".github/workflows/deploy.yml".into(),
        text: format!(
            "{}{}",
            header(ecosystem),
            to_yaml(&serde_json::to_value(&workflow).expect("serializes"))
        ),
    }]
}
