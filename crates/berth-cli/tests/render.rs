//! `berth render --to compose`, checked by the real Docker Compose on this machine.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{berth, compose, scratch};

const EXAMPLES: [&str; 5] = [
    "quickstart",
    "runeframe",
    "srvthreds",
    "symbi",
    "openpolicy",
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}/berth.yaml"))
}

fn render(file: &Path, environment: &str, dir: &Path) {
    render_to("compose", file, environment, dir);
}

fn render_to(target: &str, file: &Path, environment: &str, dir: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-f")
        .arg(file)
        .args(["-e", environment, "render", "--to", target, "--dir"])
        .arg(dir)
        .env("JWT_SECRET", "value-that-must-not-leak")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_example_renders_compose_files_that_docker_compose_accepts() {
    let Some(compose) = compose() else {
        support::not_run("neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    for name in EXAMPLES {
        let project = berth_core::load_path(&example(name)).unwrap();
        for environment in project.environment_names() {
            let dir = scratch(&format!("render-{name}-{environment}"));
            render(&example(name), environment, &dir);
            let config = |extra: &[&str]| {
                Command::new(compose[0])
                    .args(&compose[1..])
                    .args([
                        "-f",
                        "compose.data.yaml",
                        "-f",
                        "compose.services.yaml",
                        "config",
                    ])
                    .args(extra)
                    .current_dir(&dir)
                    .output()
                    .unwrap()
            };
            // Listing the services loads and validates the files against the schema.
            let listed = config(&["--services"]);
            assert!(
                listed.status.success(),
                "{name} -e {environment}: {}",
                String::from_utf8_lossy(&listed.stderr)
            );
            let mut services: Vec<String> = String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            services.sort();
            let ecosystem = project.ecosystem(Some(environment)).unwrap();
            let mut expected: Vec<String> = ecosystem
                .services
                .keys()
                .filter(|s| !ecosystem.is_external(s))
                .cloned()
                .collect();
            expected.sort();
            assert_eq!(
                services, expected,
                "{name} -e {environment}: every service with a plain `up`, and only those kept inside"
            );
        }
    }
}

/// A deployment may be named anything, `all` too; each one is a command in the
/// files' header that compose runs as written.
#[test]
fn named_deployments_are_compose_commands_that_run_as_written() {
    let Some(compose) = compose() else {
        support::not_run("neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    let dir = scratch("render-deployments");
    let file = dir.join("berth.yaml");
    std::fs::write(
        &file,
        "name: named\nservices:\n  db: { kind: redis }\n  api: { image: 'x/api:1', depends_on: { db: healthy } }\n  web: { image: 'x/web:1' }\ndeployments:\n  all: { services: [api, web] }\n  backend: { services: [api] }\n",
    )
    .unwrap();
    render(&file, "local", &dir);
    let data = std::fs::read_to_string(dir.join("compose.data.yaml")).unwrap();
    let commands: Vec<&str> = data
        .lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .collect();
    assert_eq!(commands.len(), 3, "{data}");
    assert!(
        commands[2].ends_with("up -d api   # backend"),
        "{commands:?}"
    );
    for command in commands {
        let words: Vec<&str> = command
            .split("   #")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        // The command as written, with `config` for `up -d`: compose checks it.
        let (up, services) = words.split_at(words.iter().position(|w| *w == "up").unwrap());
        let checked = Command::new(compose[0])
            .args(&compose[1..])
            .args(&up[2..])
            .args(["config", "--services"])
            .args(&services[2..])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

/// What plain objects cannot carry is said, and no field is written that the API
/// server would store as absent (a later apply by another manager conflicts on it).
#[test]
fn kubernetes_objects_say_what_they_cannot_carry_and_hold_no_empty_fields() {
    let output = berth(
        &scratch("render-notes"),
        "render-notes",
        &[
            "-f",
            example("symbi").to_str().unwrap(),
            "render",
            "-e",
            "production",
            "--to",
            "kubernetes",
        ],
    );
    assert!(output.status.success());
    let (objects, notes) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        notes.contains("note: `agentverse` rolls out by canary in environment `production`"),
        "{notes}"
    );
    assert!(
        notes.contains("`symbi-api` rolls out by blue_green"),
        "{notes}"
    );
    assert!(!objects.contains("initialDelaySeconds: 0") && !objects.contains("rollingUpdate: {}"));
}

/// The CI workflow's shell steps run as GitHub runs them — expressions put in
/// first — against stubs of kubectl, cargo and curl that record what they are
/// asked, with this berth: the deploy applies the images the build pushed, after
/// the jobs that would not change in place are gone.
#[test]
fn the_ci_workflow_runs_its_steps_against_stubs() {
    let dir = scratch("ci-steps");
    render_to("ci", &example("srvthreds"), "staging", &dir);
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/deploy.yml")).unwrap();
    let workflow = berth_core::yaml::parse(&berth_core::source::SourceFile::new(
        "deploy.yml",
        workflow.as_str(),
    ))
    .unwrap()
    .to_json();
    let stubs = dir.join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    let record = dir.join("called.txt");
    for program in ["kubectl", "cargo", "curl"] {
        let stub = stubs.join(program);
        std::fs::write(
            &stub,
            format!("#!/bin/sh\necho \"{program} $*\" >> {}\nif [ \"$1\" = apply ]; then cat >> {}; fi\n", record.display(), record.display()),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let berth_dir = Path::new(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let expressions = |run: &str| {
        run.replace("${{ '${{' }}", "\u{0}")
            .replace("${{ github.repository_owner }}", "acme")
            .replace("${{ github.sha }}", "abc123")
            .replace('\u{0}', "${{")
    };
    for job in ["check", "deploy-staging"] {
        for step in workflow["jobs"][job]["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let output = Command::new("bash")
                .args(["-eo", "pipefail", "-c", &expressions(run)])
                .current_dir(example("srvthreds").parent().unwrap())
                .env(
                    "PATH",
                    format!("{}:{berth_dir}:/usr/bin:/bin", stubs.display()),
                )
                .env("HOME", &dir)
                .env("KUBECONFIG_DATA", "")
                .output()
                .unwrap();
            assert!(
                output.status.success() || run.starts_with("berth check"),
                "{job}: `{run}` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let called = std::fs::read_to_string(&record).unwrap();
    let delete = called
        .find("kubectl -n srvthreds-staging delete job bootstrap")
        .expect("the job is replaced");
    let apply = called
        .find("kubectl apply -f -")
        .expect("the objects are applied");
    assert!(delete < apply, "{called}");
    assert!(
        called.contains("image: ghcr.io/acme/srvthreds-engine:abc123"),
        "the built image: {called}"
    );
    assert!(
        !called.contains("image: srvthreds/engine"),
        "not the tag in berth.yaml"
    );
    assert!(
        called.contains("cargo install --locked --git https://"),
        "{called}"
    );
}

#[test]
fn rendering_is_deterministic_marked_generated_and_free_of_secret_values() {
    let (first, second) = (scratch("render-once"), scratch("render-twice"));
    render(&example("srvthreds"), "docker", &first);
    render(&example("srvthreds"), "docker", &second);
    for name in ["compose.data.yaml", "compose.services.yaml"] {
        let text = std::fs::read_to_string(first.join(name)).unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(second.join(name)).unwrap(),
            "{name} is byte-identical"
        );
        assert!(
            text.starts_with("# Generated by berth from berth.yaml"),
            "{name}"
        );
        assert!(
            !text.contains("value-that-must-not-leak"),
            "{name} holds a secret value"
        );
    }
    let services = std::fs::read_to_string(first.join("compose.services.yaml")).unwrap();
    assert!(
        services.contains("JWT_SECRET: ${JWT_SECRET}"),
        "a secret is a reference"
    );
    assert!(
        services.contains("MONGODB_URL: mongodb://mongo:27017/srvthreds"),
        "references resolve to compose names"
    );
    assert!(services.contains("condition: service_completed_successfully"));
    // Build contexts lead back from the output folder to the example's, by a
    // path that depends on where both are: checked here, then named.
    let context = services
        .lines()
        .find_map(|line| line.trim().strip_prefix("context: "))
        .expect("the services are built")
        .to_owned();
    assert_eq!(
        first.join(&context).canonicalize().unwrap(),
        example("srvthreds")
            .parent()
            .unwrap()
            .canonicalize()
            .unwrap(),
        "the build context is the example's folder, seen from the output folder"
    );
    let services = services.replace(&context, "<the example's folder>");
    insta::assert_snapshot!("compose-srvthreds-docker-services", services);
    insta::assert_snapshot!(
        "compose-srvthreds-docker-data",
        std::fs::read_to_string(first.join("compose.data.yaml")).unwrap()
    );
}

#[test]
fn without_a_directory_render_prints_one_yaml_stream() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-f")
        .arg(example("quickstart"))
        .args(["render"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("# compose.data.yaml\n"));
    assert_eq!(text.matches("\n---\n").count(), 1, "{text}");
}

#[test]
fn kubernetes_keeps_minikube_databases_outside_and_reaches_them_by_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-f")
        .arg(example("srvthreds"))
        .args(["-e", "minikube", "render", "--to", "kubernetes"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("externalName: host.minikube.internal"),
        "{text}"
    );
    assert!(!text.contains("kind: StatefulSet\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: berth\n    app.kubernetes.io/name: mongo"));
    assert!(
        text.contains("kind: StatefulSet"),
        "rabbitmq stays in the cluster"
    );
    assert!(
        text.contains("MONGODB_URL: mongodb://host.minikube.internal:27017/srvthreds"),
        "{text}"
    );
    assert!(
        text.contains("RABBITMQ_URL: amqp://rabbitmq.srvthreds.svc:5672"),
        "{text}"
    );
    assert!(text.contains("secretKeyRef:"), "secrets are references");
}

#[test]
fn all_targets_go_in_a_folder_each() {
    let dir = scratch("render-all");
    render_to("all", &example("srvthreds"), "prod", &dir);
    for file in [
        "compose/compose.services.yaml",
        "kubernetes/kubernetes.yaml",
        "kustomize/base/kustomization.yaml",
        "kustomize/overlays/minikube/kustomization.yaml",
        "kustomize/overlays/prod/kustomization.yaml",
        "monitoring/prometheus-rules.yaml",
        "ci/.github/workflows/deploy.yml",
    ] {
        assert!(dir.join(file).is_file(), "no {file}");
    }
}

#[test]
fn a_tree_of_files_needs_a_directory() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-f")
        .arg(example("srvthreds"))
        .args(["render", "--to", "kustomize"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--dir"));
}

#[test]
fn kustomize_without_a_kubernetes_environment_says_what_to_add() {
    let dir = scratch("render-no-kubernetes");
    std::fs::write(
        dir.join("berth.yaml"),
        "name: solo\nservices:\n  api: { image: \"api:1\" }\n",
    )
    .unwrap();
    let output = berth(
        &dir,
        "render",
        &["render", "--to", "kustomize", "--dir", "out"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no environment runs on Kubernetes")
            && stderr.contains("runtime: kubernetes"),
        "{stderr}"
    );
}

/// A second render into the same folder writes only what changed, and says so
/// in one line; `-v` lists what it wrote.
#[test]
fn rendering_again_writes_only_what_changed() {
    let dir = scratch("render-again");
    let source = std::fs::read_to_string(example("srvthreds")).unwrap();
    std::fs::write(dir.join("berth.yaml"), &source).unwrap();
    let run = |verbose: bool| {
        let mut args = vec!["-e", "prod", "render", "--to", "all", "-d", "out"];
        if verbose {
            args.push("-v");
        }
        let output = berth(&dir, "render-again", &args);
        assert!(output.status.success(), "{}", support::text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run(false);
    assert!(
        first.starts_with("wrote ") && !first.contains("unchanged"),
        "{first}"
    );
    assert_eq!(
        first.lines().count(),
        1,
        "one line, not one per file: {first}"
    );
    let compose = dir.join("out/compose/compose.services.yaml");
    let before = std::fs::metadata(&compose).unwrap().modified().unwrap();
    let second = run(false);
    assert!(second.starts_with("wrote 0 files into out;"), "{second}");
    assert_eq!(
        std::fs::metadata(&compose).unwrap().modified().unwrap(),
        before
    );
    std::fs::write(
        dir.join("berth.yaml"),
        source.replacen("replicas: 5", "replicas: 6", 1),
    )
    .unwrap();
    let third = run(true);
    let listed: Vec<&str> = third
        .lines()
        .filter(|l| l.starts_with("wrote out/"))
        .collect();
    assert!(!listed.is_empty() && listed.len() < 10, "{third}");
    assert!(
        third.lines().last().unwrap().contains("unchanged"),
        "{third}"
    );
}
