//! Every kind of user error: the exact message and where it points.

use berth_core::{Problem, load_str};

/// Loads `yaml` and returns each problem as (`line:column`, message).
fn problems(yaml: &str) -> Vec<(String, String)> {
    match load_str("berth.yaml", yaml) {
        Ok(_) => panic!("expected problems, the file loaded"),
        Err(problems) => problems.iter().map(located).collect(),
    }
}

fn located(problem: &Problem) -> (String, String) {
    let location = problem.location().unwrap_or_default();
    let at = location.trim_start_matches("berth.yaml:").to_owned();
    (at, problem.to_string())
}

fn one(yaml: &str) -> (String, String) {
    let mut all = problems(yaml);
    assert_eq!(all.len(), 1, "expected one problem, got {all:?}");
    all.remove(0)
}

fn help(yaml: &str) -> String {
    load_str("berth.yaml", yaml).unwrap_err().0[0]
        .help
        .clone()
        .unwrap_or_default()
}

const API: &str = "
  api:
    image: demo/api:1.0.0
    ports: { http: 9001 }
    health: { readiness: /ready }
    depends_on: { db: healthy }
";

fn with_api(extra: &str) -> String {
    format!("name: demo\nservices:\n  db:\n    kind: postgres{API}{extra}")
}

#[test]
fn yaml_syntax() {
    let (at, message) = one("name: demo\nservices:\n  api: { image: [x }\n");
    assert_eq!(at, "3:20");
    assert!(message.starts_with("invalid YAML: "), "{message}");
}

#[test]
fn unknown_key_with_a_suggestion() {
    let yaml = with_api("    helth: { liveness: /healthz }\n");
    assert_eq!(one(&yaml), ("10:5".into(), "unknown key `helth`".into()));
    assert_eq!(help(&yaml), "did you mean `health`?");
}

#[test]
fn unknown_top_level_key() {
    let yaml = format!("{}enviroments: {{}}\n", with_api(""));
    assert_eq!(
        one(&yaml),
        ("10:1".into(), "unknown key `enviroments`".into())
    );
    assert_eq!(help(&yaml), "did you mean `environments`?");
}

#[test]
fn unknown_value_of_a_closed_set() {
    let yaml = "name: demo\nservices:\n  db: { kind: postgresql }\n";
    assert_eq!(
        one(yaml),
        ("3:15".into(), "unknown value `postgresql`".into())
    );
    assert_eq!(help(yaml), "did you mean `postgres`?");
}

#[test]
fn wrong_type() {
    let yaml = with_api("    replicas: many\n");
    assert_eq!(
        one(&yaml),
        ("10:15".into(), "expected u32, found string \"many\"".into())
    );
}

#[test]
fn bad_quantity() {
    let yaml = with_api("    resources: { cpu: 250mc }\n");
    assert_eq!(
        one(&yaml),
        ("10:23".into(), "`250mc` is not a CPU quantity".into())
    );
    assert_eq!(
        help(&yaml),
        "write CPU as cores (0.5, 2) or millicores (250m)"
    );
    let yaml = with_api("    resources: { memory: 512MB }\n");
    assert_eq!(
        one(&yaml),
        ("10:26".into(), "`512MB` is not a memory quantity (Kubernetes quantities have no `B`: 512Mi, not 512MiB)".into())
    );
}

#[test]
fn bad_duration() {
    let yaml = "name: demo\nservices:\n  api:\n    image: a:1\n    ports: { http: 9001 }\n    health: { readiness: { http: /ready, period: soon } }\n";
    assert_eq!(
        one(yaml),
        ("6:50".into(), "`soon` is not a duration".into())
    );
}

#[test]
fn bad_port() {
    let yaml = "name: demo\nservices:\n  api: { image: a:1, ports: { http: 70000 } }\n";
    assert_eq!(
        one(yaml),
        ("3:37".into(), "`70000` is not a port number".into())
    );
}

#[test]
fn dangling_dependency() {
    let yaml = with_api("").replace("{ db: healthy }", "{ dbb: healthy }");
    assert_eq!(
        one(&yaml),
        ("9:19".into(), "there is no service `dbb`".into())
    );
    assert_eq!(help(&yaml), "did you mean `db`?");
}

#[test]
fn dangling_dependency_in_list_form() {
    let yaml = with_api("").replace("{ db: healthy }", "[db, cache]");
    assert_eq!(
        one(&yaml),
        ("9:22".into(), "there is no service `cache`".into())
    );
}

#[test]
fn dangling_reference() {
    let yaml = with_api("    env: { DB: \"${dbx.url}/demo\" }\n");
    assert_eq!(
        one(&yaml),
        ("10:17".into(), "there is no service `dbx`".into())
    );
    assert_eq!(help(&yaml), "did you mean `${db.url}`?");
}

#[test]
fn malformed_reference() {
    let yaml = with_api("    env: { DB: \"${db.uri}\" }\n");
    assert_eq!(
        one(&yaml),
        (
            "10:16".into(),
            "`uri` in `${db.uri}` is not an address field".into()
        )
    );
}

#[test]
fn unknown_named_port() {
    let yaml = with_api("    env: { DB: \"${db.port.admin}\" }\n");
    assert_eq!(
        one(&yaml),
        ("10:17".into(), "`db` has no port named `admin`".into())
    );
}

#[test]
fn dangling_include() {
    let yaml = format!(
        "{}deployments:\n  all: {{ include: [dbs] }}\n  db-only: {{ services: [db] }}\n",
        with_api("")
    );
    assert_eq!(
        one(&yaml),
        ("11:20".into(), "there is no deployment `dbs`".into())
    );
}

#[test]
fn overlay_names_an_unknown_service() {
    let yaml = format!(
        "{}environments:\n  prod:\n    services:\n      apu: {{ replicas: 2 }}\n",
        with_api("")
    );
    assert_eq!(
        one(&yaml),
        ("13:7".into(), "there is no service `apu`".into())
    );
}

#[test]
fn error_inside_an_overlay_points_at_the_overlay() {
    let yaml = format!(
        "{}environments:\n  local: {{}}\n  prod:\n    services:\n      api: {{ replicas: -1 }}\n",
        with_api("")
    );
    let (at, message) = one(&yaml);
    assert_eq!(at, "14:24");
    assert_eq!(
        message,
        "invalid value integer `-1`: expected u32 (in environment `prod`)"
    );
}

#[test]
fn dependency_cycle_prints_its_path() {
    let yaml = "name: demo\nservices:\n  a: { image: a:1, depends_on: [b] }\n  b: { image: b:1, depends_on: [c] }\n  c: { image: c:1, depends_on: [a] }\n";
    assert_eq!(
        one(yaml),
        ("3:33".into(), "dependency cycle: a → b → c → a".into())
    );
}

#[test]
fn self_dependency() {
    let yaml = "name: demo\nservices:\n  a: { image: a:1, depends_on: [a] }\n";
    assert_eq!(
        one(yaml),
        ("3:33".into(), "service `a` depends on itself".into())
    );
}

#[test]
fn port_clash_points_at_both() {
    let yaml = "name: demo\nservices:\n  a: { image: a:1, ports: { http: 9001 } }\n  b: { image: b:1, ports: { web: 9001 } }\n";
    assert_eq!(
        one(yaml),
        (
            "4:29".into(),
            "port 9001 is used by both `a` and `b`".into()
        )
    );
}

#[test]
fn ports_may_repeat_in_kubernetes() {
    let yaml = "name: demo\nservices:\n  a: { image: a:1, ports: { http: 8080 } }\n  b: { image: b:1, ports: { web: 8080 } }\nenvironments:\n  k8s: { runtime: kubernetes }\n";
    assert!(load_str("berth.yaml", yaml).is_ok());
}

#[test]
fn job_depended_on_as_healthy() {
    let yaml = with_api("  seed: { kind: job, image: s:1 }\n")
        .replace("{ db: healthy }", "{ db: healthy, seed: healthy }");
    assert_eq!(
        one(&yaml),
        (
            "9:32".into(),
            "`seed` is a job: it runs to completion and is never healthy".into()
        )
    );
    assert_eq!(help(&yaml), "write `seed: completed`");
}

#[test]
fn completed_on_a_service() {
    let yaml = with_api("").replace("{ db: healthy }", "{ db: completed }");
    assert_eq!(
        one(&yaml),
        (
            "9:19".into(),
            "`db` is not a job: it never completes".into()
        )
    );
}

#[test]
fn dependency_on_a_later_phase() {
    let yaml = with_api("  web: { phase: frontend, image: w:1 }\n")
        .replace("{ db: healthy }", "{ db: healthy, web: started }");
    assert_eq!(
        one(&yaml),
        (
            "9:32".into(),
            "`api` (phase core) depends on `web`, which deploys in a later phase (frontend)".into()
        )
    );
}

#[test]
fn unknown_phase() {
    let yaml = with_api("    phase: bussiness\n");
    assert_eq!(
        one(&yaml),
        ("10:5".into(), "there is no phase `bussiness`".into())
    );
    assert_eq!(help(&yaml), "did you mean `business`?");
}

#[test]
fn names_must_be_dns_labels() {
    let yaml = "name: Demo\nservices:\n  Session_Agent: { image: a:1 }\n";
    let all = problems(yaml);
    assert_eq!(
        all[0],
        (
            "1:7".into(),
            "ecosystem name `Demo` is not a valid DNS label".into()
        )
    );
    assert_eq!(
        all[1],
        (
            "3:3".into(),
            "service name `Session_Agent` is not a valid DNS label".into()
        )
    );
}

#[test]
fn missing_name() {
    assert_eq!(
        one("services:\n  a: { image: a:1 }\n"),
        ("1:1".into(), "berth.yaml has no `name`".into())
    );
}

#[test]
fn nothing_to_run() {
    let yaml = "name: demo\nservices:\n  a: { ports: { http: 9001 } }\n";
    assert_eq!(
        one(yaml),
        ("3:3".into(), "service `a` has nothing to run".into())
    );
}

#[test]
fn unknown_waived_check() {
    let yaml = with_api("    waive: { image-pined: legacy }\n");
    assert_eq!(
        one(&yaml),
        ("10:14".into(), "there is no check `image-pined`".into())
    );
    assert_eq!(help(&yaml), "did you mean `image-pinned`?");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let yaml = "name: demo\nservices:\n  a: { image: a:1, replicas: x }\n  b: { image: b:1, helth: {} }\n  c: { image: c:1, depends_on: [zz] }\n";
    let all = problems(yaml);
    let messages: Vec<&str> = all.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "expected u32, found string \"x\"",
            "unknown key `helth`",
            "there is no service `zz`"
        ]
    );
}

#[test]
fn unknown_environment_suggests_the_closest() {
    let project = load_str(
        "berth.yaml",
        &format!(
            "{}environments:\n  local: {{}}\n  prod: {{}}\n",
            with_api("")
        ),
    )
    .unwrap();
    let problems = project.ecosystem(Some("prd")).unwrap_err();
    assert_eq!(
        problems.0[0].message,
        "there is no environment `prd` in berth.yaml"
    );
    assert_eq!(problems.0[0].help.as_deref(), Some("did you mean `prod`?"));
}

#[test]
fn secrets_never_appear_in_errors() {
    // A secret is a reference: even a malformed one shows the reference, never a value.
    let yaml = with_api("    secrets: { TOKEN: { vault: s3cr3t } }\n");
    let (_, message) = one(&yaml);
    assert_eq!(message, "unknown value `vault`");
}

/// Problems come in the order of the file, as its reader fixes them.
#[test]
fn labels_and_port_names_kubernetes_would_refuse() {
    let yaml = "name: demo\nservices:\n  api:\n    image: demo/api:1.0.0\n    ports: { prometheus-metrics: 9001 }\n    labels: { team: \"core platform\" }\n";
    assert_eq!(
        problems(yaml),
        [
            (
                "5:14".to_owned(),
                "port name `prometheus-metrics` is not valid in Kubernetes".to_owned()
            ),
            (
                "6:15".to_owned(),
                "label value `core platform` of `team` is not valid in Kubernetes".to_owned()
            ),
        ]
    );
}

/// One run shows every problem of a service, not one per round of fixing.
#[test]
fn every_problem_of_one_service_in_one_run() {
    let yaml = "name: demo\nservices:\n  api:\n    image: demo/api:1.0.0\n    replicas: many\n    restart: sometimes\n    bogus: 1\n";
    let found = problems(yaml);
    let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(messages[0].contains("\"many\""), "{messages:?}");
    assert_eq!(messages[1], "unknown value `sometimes`");
    assert!(
        messages[2].starts_with("unknown key `bogus`"),
        "{messages:?}"
    );
    assert_eq!(
        found.iter().map(|(at, _)| at.as_str()).collect::<Vec<_>>(),
        ["5:15", "6:14", "7:5"]
    );
}

/// Three replicas of a data store would be three stores with their own data.
#[test]
fn a_data_store_of_several_replicas_is_refused() {
    let yaml = "name: demo\nservices:\n  db:\n    kind: mongodb\n    replicas: 3\n";
    assert_eq!(
        one(yaml),
        (
            "5:5".into(),
            "`db` is a mongodb of 3 replicas, and berth runs a data store as one instance".into()
        )
    );
}

#[test]
fn metrics_on_an_undeclared_port() {
    let yaml = "name: demo\nservices:\n  api:\n    image: demo/api:1.0.0\n    ports: { http: 8080 }\n    metrics: { port: admin, path: /metrics }\n";
    assert_eq!(
        one(yaml),
        (
            "6:5".into(),
            "`api` serves metrics on port `admin`, which it does not declare".into()
        )
    );
}
