//! The `berth` binary as a user runs it: real processes, real files, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn berth(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("berth runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    repo()
        .join("examples")
        .join(name)
        .join("berth.yaml")
        .display()
        .to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const EXAMPLES: [&str; 5] = [
    "quickstart",
    "runeframe",
    "srvthreds",
    "symbi",
    "openpolicy",
];

#[test]
fn plan_of_every_example_in_every_environment() {
    for name in EXAMPLES {
        let file = example(name);
        let project = berth_core::load_path(Path::new(&file)).unwrap();
        for environment in project.environment_names() {
            let output = berth(&["-f", &file, "-e", environment, "plan"], &repo());
            assert!(
                output.status.success(),
                "{name} -e {environment}: {}",
                stderr(&output)
            );
            insta::assert_snapshot!(format!("plan-{name}-{environment}"), stdout(&output));
        }
    }
}

#[test]
fn check_of_every_example_in_every_environment() {
    for name in EXAMPLES {
        let file = example(name);
        let project = berth_core::load_path(Path::new(&file)).unwrap();
        for environment in project.environment_names() {
            let output = berth(&["-f", &file, "-e", environment, "check"], &repo());
            let expected = if name == "openpolicy" { 1 } else { 0 };
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{name} -e {environment}: {}",
                stdout(&output)
            );
            insta::assert_snapshot!(format!("check-{name}-{environment}"), stdout(&output));
        }
    }
}

#[test]
fn plan_of_a_named_deployment_pulls_in_what_it_needs() {
    let output = berth(&["-f", &example("srvthreds"), "plan", "s_a_dbs_s"], &repo());
    assert!(output.status.success());
    insta::assert_snapshot!(stdout(&output));
    let output = berth(&["-f", &example("srvthreds"), "plan", "engine"], &repo());
    let text = stdout(&output);
    assert!(
        text.contains("bootstrap") && text.contains("mongo") && !text.contains("session-agent"),
        "{text}"
    );
}

#[test]
fn graph_as_mermaid_and_dot() {
    let output = berth(&["-f", &example("srvthreds"), "graph"], &repo());
    insta::assert_snapshot!(stdout(&output));
    let output = berth(
        &["-f", &example("srvthreds"), "graph", "--format", "dot"],
        &repo(),
    );
    assert!(stdout(&output).contains("\"engine\" -> \"bootstrap\" [label=\"completed\"];"));
}

#[test]
fn finds_berth_yaml_in_a_parent_directory() {
    let dir = scratch("find");
    std::fs::copy(example("quickstart"), dir.join("berth.yaml")).unwrap();
    std::fs::create_dir_all(dir.join("src/deep")).unwrap();
    let output = berth(&["plan"], &dir.join("src/deep"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("Plan for quickstart"));
}

#[test]
fn no_berth_yaml_says_what_to_do() {
    let dir = scratch("none");
    let output = berth(&["check"], &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no berth.yaml in"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("berth init"));
}

#[test]
fn init_writes_a_starter_that_checks_and_never_overwrites() {
    let dir = scratch("init");
    let output = berth(&["init", "--name", "shop"], &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(dir.join("berth.yaml")).unwrap();
    assert!(written.starts_with("# berth.yaml") && written.contains("name: shop"));
    assert_eq!(berth(&["check"], &dir).status.code(), Some(0));
    assert!(berth(&["plan"], &dir).status.success());
    let again = berth(&["init"], &dir);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.join("berth.yaml")).unwrap(),
        written,
        "the file is untouched"
    );
}

/// The quickstart, broken five ways as a new user might: each error says where and what to do.
#[test]
fn a_broken_quickstart_explains_itself() {
    let original = std::fs::read_to_string(example("quickstart")).unwrap();
    let breakages = [
        (
            "typo",
            "    depends_on: { api: healthy }",
            "    depend_on: { api: healthy }",
            "berth.yaml:39:5",
            "did you mean `depends_on`?",
        ),
        (
            "dangling",
            "depends_on: { api: healthy }",
            "depends_on: { apii: healthy }",
            "berth.yaml:39:19",
            "did you mean `api`?",
        ),
        (
            "quantity",
            "memory: 64Mi, cpu_limit: 250m, memory_limit: 128Mi }\n    routes",
            "memory: 64MB, cpu_limit: 250m, memory_limit: 128Mi }\n    routes",
            "berth.yaml:56:37",
            "write memory as 512Mi, 1Gi or 500M",
        ),
        (
            "cycle",
            "    depends_on: { migrate: completed }\n    resources",
            "    depends_on: { migrate: completed, web: started }\n    resources",
            "berth.yaml:27:39",
            "nothing in a cycle can start first",
        ),
        (
            "indent",
            "  web:\n    phase: frontend",
            "  web:\n   phase: frontend",
            "berth.yaml:46:10",
            "fix the YAML syntax",
        ),
    ];
    for (what, from, to, location, help) in breakages {
        assert!(original.contains(from), "{what}: the quickstart changed");
        let dir = scratch(&format!("broken-{what}"));
        std::fs::write(dir.join("berth.yaml"), original.replacen(from, to, 1)).unwrap();
        let output = berth(&["check"], &dir);
        assert_eq!(output.status.code(), Some(2), "{what}");
        let text = stderr(&output);
        assert!(text.contains(location), "{what}: no {location} in\n{text}");
        assert!(text.contains(help), "{what}: no help `{help}` in\n{text}");
        assert!(
            text.contains('▲') || text.contains('─'),
            "{what}: no snippet in\n{text}"
        );
    }
}

#[test]
fn errors_as_json_for_machines() {
    let dir = scratch("json");
    std::fs::write(
        dir.join("berth.yaml"),
        "name: demo\nservices:\n  api: { image: a:1, replicas: lots }\n",
    )
    .unwrap();
    let output = berth(&["check", "--output", "json"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = &json["errors"][0];
    assert_eq!(error["message"], "expected u32, found string \"lots\"");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(3), Some(32))
    );
}

#[test]
fn check_and_plan_as_json() {
    let output = berth(
        &["-f", &example("openpolicy"), "check", "-o", "json"],
        &repo(),
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["score"], "24/25 services compliant (96%)");
    assert_eq!(
        (json["compliant"].as_u64(), json["total"].as_u64()),
        (Some(24), Some(25))
    );
    let output = berth(
        &["-f", &example("quickstart"), "plan", "-o", "json"],
        &repo(),
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["critical_chain"],
        serde_json::json!(["migrate", "api", "worker"])
    );
}

#[test]
fn secret_values_never_reach_the_output() {
    for args in [
        &["plan", "-o", "json"][..],
        &["check", "-o", "json"],
        &["plan"],
        &["check"],
        &["graph"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["-f", "examples/srvthreds/berth.yaml"])
            .args(args)
            .current_dir(repo())
            .env("SRVTHREDS_JWT", "jwt-value-that-must-not-leak")
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !all.contains("jwt-value-that-must-not-leak"),
            "{args:?} leaked the secret"
        );
    }
}

#[test]
fn schema_is_json_schema_for_berth_yaml() {
    let output = berth(&["schema"], &repo());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "berth.yaml");
    assert!(schema["properties"]["services"].is_object());
}

#[test]
fn unknown_selection_names_suggest_the_closest() {
    let output = berth(&["-f", &example("srvthreds"), "plan", "s_a_db"], &repo());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("did you mean `s_a_dbs`?"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_commands_themselves() {
    let dir = scratch("completions");
    for shell in ["bash", "zsh", "fish"] {
        let output = berth(&["completions", shell], &dir);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("rollback"), "{shell}");
    }
    let bash = dir.join("berth.bash");
    std::fs::write(&bash, berth(&["completions", "bash"], &dir).stdout).unwrap();
    let sourced = Command::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p berth", bash.display()),
        ])
        .output()
        .unwrap();
    assert!(stdout(&sourced).contains("_berth"), "{}", stderr(&sourced));
    let man = berth(&["man"], &dir);
    assert!(man.status.success());
    let page = stdout(&man);
    assert!(
        page.contains(".TH berth 1") && page.contains("deploy"),
        "{page}"
    );
}

#[test]
fn a_clash_far_apart_shows_the_two_places_not_every_line_between() {
    let dir = scratch("far-clash");
    let between: String = (0..20)
        .map(|i| format!("  filler{i}:\n    image: x\n"))
        .collect();
    let yaml = format!(
        "name: x\nservices:\n  a:\n    image: x\n    ports: {{ http: 9001 }}\n{between}  b:\n    image: y\n    ports: {{ http: 9001 }}\n"
    );
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let output = berth(&["check"], &dir);
    let said = stderr(&output);
    assert!(
        said.contains("first use") && said.contains("second use"),
        "{said}"
    );
    assert!(!said.contains("filler10"), "{said}");
}
