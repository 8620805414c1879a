//! The Kubernetes runtime end to end, against whatever cluster
//! `BERTH_TEST_KUBECONFIG` names (its current context): the quickstart and
//! srvthreds deployed, a rolling update, a canary that cannot pull its image
//! rolled back with the reason, a rollback to deployment 1, the history read
//! back from the cluster, prune, down; blue-green's switch, promote and abort
//! through the Lease, a killed berth's lease taken over, logs following a
//! rollout and a restarted container, a data store rolled as a StatefulSet,
//! a migration held until the object store has a backup within the RPO, a
//! store backed up, restored and drilled through a port-forward, and
//! a canary weighted on an HTTPRoute and on an Istio VirtualService (their kinds
//! served by CRDs the tests make).
//! Each test works in a namespace of its own and deletes it at the end. The
//! quickstart's images (`quickstart/api:0.1.0`, …) must be pullable by the
//! cluster's nodes — `kind load docker-image` them — or the nodes simulated.
//!
//! With no cluster named every test that needs one says NOT RUN and what to
//! set. CI has no cluster; this suite is run by hand against a real API
//! server. The last test, of what berth says when there is no cluster to
//! reach, runs everywhere.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::text;

/// The kubeconfig of the cluster to test against, or NOT RUN.
fn cluster() -> Option<PathBuf> {
    match std::env::var_os("BERTH_TEST_KUBECONFIG") {
        Some(path) => {
            assert!(
                support::installed("kubectl"),
                "BERTH_TEST_KUBECONFIG is set but kubectl, which the suite checks the cluster with, is not installed"
            );
            Some(PathBuf::from(path))
        }
        None => {
            eprintln!(
                "NOT RUN: no cluster to test the Kubernetes runtime against; set BERTH_TEST_KUBECONFIG to a kubeconfig whose current context is a cluster berth may create namespaces in"
            );
            None
        }
    }
}

/// A project in a scratch folder whose environment lives in its own namespace.
struct Project {
    dir: PathBuf,
    kubeconfig: PathBuf,
    namespace: String,
}

impl Project {
    fn from_example(
        example: &str,
        name: &str,
        kubeconfig: PathBuf,
        namespace_in_file: &str,
    ) -> Project {
        let dir = support::scratch(&format!("kube-{name}"));
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(example)
            .join("berth.yaml");
        let namespace = format!("berth-e2e-{name}-{}", std::process::id());
        let text = std::fs::read_to_string(source).unwrap().replace(
            &format!("namespace: {namespace_in_file}\n"),
            &format!("namespace: {namespace}\n"),
        );
        std::fs::write(dir.join("berth.yaml"), text).unwrap();
        let project = Project {
            dir,
            kubeconfig,
            namespace,
        };
        project.kubectl(&[
            "delete",
            "namespace",
            &project.namespace,
            "--ignore-not-found",
            "--wait=true",
        ]);
        project
    }

    /// A project of `yaml`, whose `namespace: NAMESPACE` is made its own.
    fn from_yaml(yaml: &str, name: &str, kubeconfig: PathBuf) -> Project {
        let dir = support::scratch(&format!("kube-{name}"));
        let namespace = format!("berth-e2e-{name}-{}", std::process::id());
        std::fs::write(
            dir.join("berth.yaml"),
            yaml.replace("NAMESPACE", &namespace),
        )
        .unwrap();
        Project {
            dir,
            kubeconfig,
            namespace,
        }
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("berth.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "berth.yaml has no `{from}`");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    fn berth(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .current_dir(&self.dir)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    /// berth with `args`, running until the answer is dropped; its output
    /// line by line.
    fn running(&self, args: &[&str]) -> (Ended, std::sync::mpsc::Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .current_dir(&self.dir)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        (Ended(child), lines)
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let output = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .unwrap();
        text(&output)
    }

    /// `kubectl get` of one field of every object of `kind`, sorted.
    fn get(&self, kind: &str, columns: &str) -> String {
        self.kubectl(&[
            "get",
            kind,
            "-n",
            &self.namespace,
            "--no-headers",
            "--sort-by=.metadata.name",
            &format!("-o=custom-columns={columns}"),
        ])
    }

    /// The object `kind`/`name` as JSON; null when it is not there.
    fn object(&self, kind: &str, name: &str) -> serde_json::Value {
        let json = self.kubectl(&["get", kind, name, "-n", &self.namespace, "-o", "json"]);
        serde_json::from_str(&json).unwrap_or_default()
    }

    /// The names of the objects of `kind`.
    fn names(&self, kind: &str) -> Vec<String> {
        self.get(kind, "NAME:.metadata.name")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with("No resources"))
            .map(str::to_owned)
            .collect()
    }

    fn secret(&self, name: &str, literals: &[&str]) {
        self.kubectl(&["create", "namespace", &self.namespace]);
        let mut args = vec!["create", "secret", "generic", name, "-n", &self.namespace];
        let literals: Vec<String> = literals
            .iter()
            .map(|l| format!("--from-literal={l}"))
            .collect();
        args.extend(literals.iter().map(String::as_str));
        self.kubectl(&args);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.namespace.is_empty() {
            return;
        }
        self.kubectl(&[
            "delete",
            "namespace",
            &self.namespace,
            "--ignore-not-found",
            "--wait=false",
        ]);
    }
}

/// A child's output, line by line, as it comes.
fn lines_of(stream: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

fn assert_exit(output: &Output, code: i32) -> String {
    let said = text(output);
    assert_eq!(output.status.code(), Some(code), "{said}");
    said
}

#[test]
fn the_quickstart_deploys_rolls_out_rolls_back_and_keeps_its_history_in_the_cluster() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "quickstart", kubeconfig, "quickstart");
    let deploy = ["deploy", "-e", "production"];

    // The pre-flight: the Secret the api needs is missing, and nothing is applied.
    let refused = assert_exit(&project.berth(&deploy), 2);
    assert!(
        refused.contains(&format!("Secret {}/quickstart", project.namespace)),
        "{refused}"
    );
    assert!(
        refused.contains("--from-literal=session-secret="),
        "{refused}"
    );
    assert!(refused.contains("nothing was applied"), "{refused}");
    assert!(project.names("deployments").is_empty());

    project.secret("quickstart", &["session-secret=not-for-logs"]);
    let first = assert_exit(&project.berth(&deploy), 0);
    assert!(first.contains("deployment 1 succeeded"), "{first}");
    assert!(!first.contains("not-for-logs"));
    let images = project.get("deployments", "NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image,READY:.status.readyReplicas");
    assert_eq!(
        images.split_whitespace().collect::<Vec<_>>(),
        [
            "api",
            "quickstart/api:0.1.0",
            "3",
            "web",
            "quickstart/web:0.1.0",
            "2",
            "worker",
            "quickstart/worker:0.1.0",
            "2"
        ],
        "{images}"
    );
    let job = project.get("jobs", "NAME:.metadata.name,DONE:.status.succeeded");
    assert_eq!(job.split_whitespace().collect::<Vec<_>>(), ["migrate", "1"]);
    let labels = project.kubectl(&[
        "get",
        "deployment",
        "api",
        "-n",
        &project.namespace,
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    for label in [
        "\"app.kubernetes.io/managed-by\":\"berth\"",
        "\"app.kubernetes.io/part-of\":\"quickstart\"",
        "\"berth.dev/environment\":\"production\"",
        "\"berth.dev/revision\":",
    ] {
        assert!(labels.contains(label), "{label} in {labels}");
    }
    let again = assert_exit(&project.berth(&deploy), 0);
    assert!(again.contains("nothing to deploy"), "{again}");

    // A dry run shows the server's view of a change and changes nothing.
    project.edit("image: quickstart/api:0.1.0\n    local: { run: [berth, workload, --release, 0.1.0, --start-delay", "image: quickstart/api:0.2.0\n    local: { run: [berth, workload, --release, 0.1.0, --start-delay");
    let dry = assert_exit(
        &project.berth(&["deploy", "-e", "production", "--dry-run"]),
        0,
    );
    assert!(
        dry.contains(&format!("+++ berth/Deployment/{}/api", project.namespace)),
        "{dry}"
    );
    assert!(
        dry.contains("-        image: quickstart/api:0.1.0\n+        image: quickstart/api:0.2.0"),
        "{dry}"
    );
    assert!(
        project
            .get(
                "deployment/api",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("0.1.0")
    );

    // A rolling update.
    let rolled = assert_exit(&project.berth(&deploy), 0);
    assert!(
        rolled.contains("the Deployment's rolling update"),
        "{rolled}"
    );
    assert!(rolled.contains("deployment 2 succeeded"), "{rolled}");
    assert!(
        project
            .get(
                "deployment/api",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("0.2.0")
    );

    // A canary that cannot pull its image is rolled back, with the reason.
    project.edit("image: quickstart/web:0.1.0", "image: quickstart/web:does-not-exist\n    rollout: { strategy: canary, steps: [25, 50, 100] }");
    let canary = assert_exit(&project.berth(&deploy), 1);
    assert!(
        canary.contains("ImagePullBackOff") || canary.contains("ErrImagePull"),
        "{canary}"
    );
    assert!(canary.contains("deployment 3 rolled back"), "{canary}");
    let webs = project.get(
        "deployments",
        "NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image",
    );
    assert!(!webs.contains("web-canary"), "the canary is gone: {webs}");
    assert!(webs.contains("quickstart/web:0.1.0"), "{webs}");

    // The history is the cluster's: a fresh clone of the project reads the same.
    std::fs::remove_dir_all(project.dir.join(".berth")).ok();
    let history = assert_exit(
        &project.berth(&["history", "-e", "production", "-o", "json"]),
        0,
    );
    let records: serde_json::Value = serde_json::from_str(&history).unwrap();
    let outcomes: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["succeeded", "succeeded", "rolled_back"],
        "{history}"
    );
    let shown = assert_exit(
        &project.berth(&["history", "-e", "production", "show", "3"]),
        0,
    );
    assert!(
        shown.contains("ImagePullBackOff") || shown.contains("ErrImagePull"),
        "the evidence is kept: {shown}"
    );

    // Back to deployment 1: its own object set, not today's render.
    let back = assert_exit(
        &project.berth(&["rollback", "-e", "production", "--to", "1"]),
        0,
    );
    assert!(back.contains("deployment 4 succeeded"), "{back}");
    assert!(
        project
            .get(
                "deployment/api",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("quickstart/api:0.1.0")
    );

    let status = assert_exit(&project.berth(&["status", "-e", "production"]), 0);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("api") && l.contains("3/3") && l.contains("ready")),
        "{status}"
    );

    // A service berth.yaml no longer has is listed, and deleted only with --prune.
    project.edit("image: quickstart/web:does-not-exist\n    rollout: { strategy: canary, steps: [25, 50, 100] }", "image: quickstart/web:0.1.0");
    let text = std::fs::read_to_string(project.dir.join("berth.yaml")).unwrap();
    let start = text.find("  worker:\n").unwrap();
    let end = text[start..].find("\n\n").unwrap() + start + 2;
    std::fs::write(
        project.dir.join("berth.yaml"),
        format!("{}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    project.edit("services: [api, worker]", "services: [api]");
    let listed = assert_exit(&project.berth(&deploy), 0);
    assert!(
        listed.contains(&format!("Deployment/{}/worker", project.namespace))
            && listed.contains("--prune"),
        "{listed}"
    );
    assert!(project.names("deployments").contains(&"worker".to_owned()));
    let pruned = assert_exit(
        &project.berth(&["deploy", "-e", "production", "--prune"]),
        0,
    );
    assert!(pruned.contains("pruning"), "{pruned}");
    assert!(!project.names("deployments").contains(&"worker".to_owned()));

    // Down deletes berth's objects and keeps the history and anyone else's.
    let down = assert_exit(&project.berth(&["down", "-e", "production"]), 0);
    assert!(
        down.contains(&format!("Deployment/{}/api", project.namespace)),
        "{down}"
    );
    assert!(project.names("deployments").is_empty());
    assert!(
        project.names("pods").is_empty(),
        "down returns once the pods are gone too"
    );
    assert!(
        project.names("secrets").contains(&"quickstart".to_owned()),
        "the user's Secret stays"
    );
    let history = assert_exit(&project.berth(&["history", "-e", "production"]), 0);
    assert!(history.lines().count() >= 6, "{history}");

    // What down took away is deployed again, as new.
    let again = assert_exit(&project.berth(&deploy), 0);
    assert!(again.contains("succeeded"), "{again}");
    assert_eq!(project.names("deployments"), ["api", "web"]);
    // And so is a Deployment deleted by hand.
    project.kubectl(&["delete", "deployment", "web", "-n", &project.namespace]);
    let healed = assert_exit(&project.berth(&deploy), 0);
    assert!(healed.contains("succeeded"), "{healed}");
    assert_eq!(project.names("deployments"), ["api", "web"]);
}

#[test]
fn srvthreds_prod_deploys_once_its_secret_has_every_key() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("srvthreds", "srvthreds", kubeconfig, "srvthreds-prod");
    project.secret("srvthreds-secrets", &["jwt=a"]);
    let refused = assert_exit(&project.berth(&["deploy", "-e", "prod"]), 2);
    assert!(
        refused.contains("key `rabbitmq-password` of Secret"),
        "{refused}"
    );
    project.kubectl(&[
        "delete",
        "secret",
        "srvthreds-secrets",
        "-n",
        &project.namespace,
    ]);
    project.secret("srvthreds-secrets", &["jwt=a", "rabbitmq-password=b"]);
    let deployed = assert_exit(&project.berth(&["deploy", "-e", "prod"]), 0);
    assert!(deployed.contains("deployment 1 succeeded"), "{deployed}");
    let ready = project.get(
        "deployments",
        "NAME:.metadata.name,READY:.status.readyReplicas",
    );
    assert_eq!(
        ready.split_whitespace().collect::<Vec<_>>(),
        [
            "engine",
            "5",
            "persistence-agent",
            "2",
            "session-agent",
            "2"
        ],
        "{ready}"
    );
    let external = project.get("service/mongo", "TYPE:.spec.type,NAME:.spec.externalName");
    assert!(
        external.contains("ExternalName") && external.contains("srvthreds-prod.mongodb.net"),
        "{external}"
    );
}

#[test]
fn a_killed_berth_leaves_its_lease_to_expire_and_the_next_deploy_heals_what_it_left() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "lease", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    // A canary that pauses long enough to be killed in.
    project.edit("image: quickstart/web:0.1.0", "image: quickstart/web:0.2.0\n    rollout: { strategy: canary, steps: [50, 100], pause: 5m }");
    let mut running = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["deploy", "-e", "production"])
        .current_dir(&project.dir)
        .env("KUBECONFIG", &project.kubeconfig)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !project
        .names("deployments")
        .contains(&"web-canary".to_owned())
    {
        assert!(Instant::now() < deadline, "the canary never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    running.kill().unwrap();
    running.wait().unwrap();
    let locked = assert_exit(
        &project.berth(&["deploy", "-e", "production", "--no-wait"]),
        2,
    );
    assert!(locked.contains("holds its lease"), "{locked}");
    // The killed canary had taken a replica from the stable set.
    assert_eq!(
        project.get("deployment/web", "R:.spec.replicas").trim(),
        "1"
    );
    // berth.yaml back as deployment 1 had it: nothing to deploy, but the next
    // deploy waits out the dead berth's lease (30 s) and heals what it left.
    project.edit(
        "image: quickstart/web:0.2.0\n    rollout: { strategy: canary, steps: [50, 100], pause: 5m }",
        "image: quickstart/web:0.1.0",
    );
    let started = Instant::now();
    let next = assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );
    assert!(next.contains("deployment 2 was interrupted"), "{next}");
    assert!(next.contains("deployment 3 succeeded"), "{next}");
    let history = assert_exit(
        &project.berth(&["history", "-e", "production", "-o", "json"]),
        0,
    );
    let records: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(records[1]["outcome"], "interrupted", "{history}");
    assert!(
        !project
            .names("deployments")
            .contains(&"web-canary".to_owned())
    );
    let web = project.get(
        "deployment/web",
        "IMAGE:.spec.template.spec.containers[0].image,R:.spec.replicas",
    );
    assert_eq!(
        web.split_whitespace().collect::<Vec<_>>(),
        ["quickstart/web:0.1.0", "2"],
        "{web}"
    );
}

#[test]
fn blue_green_switches_the_service_at_once_and_a_broken_preview_never_gets_it() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "bluegreen", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let selector = || {
        project.kubectl(&[
            "get",
            "service",
            "worker",
            "-n",
            &project.namespace,
            "-o",
            "jsonpath={.spec.selector}",
        ])
    };

    project.edit(
        "image: quickstart/worker:0.1.0",
        "image: quickstart/worker:does-not-exist\n    rollout: { strategy: blue_green, keep_previous: 3s }",
    );
    let broken = assert_exit(&project.berth(&["deploy", "-e", "production"]), 1);
    assert!(
        broken.contains("ImagePullBackOff") || broken.contains("ErrImagePull"),
        "{broken}"
    );
    assert!(!broken.contains("switched the Service"), "{broken}");
    assert!(!selector().contains("preview"), "{}", selector());
    assert!(
        !project
            .names("deployments")
            .contains(&"worker-preview".to_owned())
    );

    project.edit(
        "image: quickstart/worker:does-not-exist",
        "image: quickstart/worker:0.2.0",
    );
    let mut running = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["deploy", "-e", "production"])
        .current_dir(&project.dir)
        .env("KUBECONFIG", &project.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut switched = false;
    while running.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the deployment did not end");
        switched |= selector().contains("\"berth.dev/track\":\"preview\"");
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = running.wait_with_output().unwrap();
    let said = assert_exit(&output, 0);
    assert!(
        switched,
        "the Service never selected the preview alone: {said}"
    );
    assert!(
        said.contains("switched the Service to the new set"),
        "{said}"
    );
    assert!(!selector().contains("preview"), "{}", selector());
    assert!(
        !project
            .names("deployments")
            .contains(&"worker-preview".to_owned())
    );
    assert!(
        project
            .get(
                "deployment/worker",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("0.2.0")
    );
}

#[test]
fn logs_follow_the_pods_a_rollout_makes() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "logs", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let before = project.names("pods");
    let shown = assert_exit(
        &project.berth(&["logs", "-e", "production", "-n", "1", "worker"]),
        0,
    );
    let workers: Vec<&String> = before.iter().filter(|p| p.starts_with("worker-")).collect();
    assert_eq!(workers.len(), 2, "{before:?}");
    for pod in &workers {
        assert_eq!(
            shown
                .lines()
                .filter(|l| l.starts_with(&format!("{pod} | ")))
                .count(),
            1,
            "{shown}"
        );
    }
    assert!(
        !shown.contains("api-"),
        "only the services asked for: {shown}"
    );

    let (_following, lines) = project.running(&["logs", "-e", "production", "-f", "worker"]);
    project.edit(
        "image: quickstart/worker:0.1.0",
        "image: quickstart/worker:0.2.0",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let after: Vec<String> = project
        .names("pods")
        .into_iter()
        .filter(|p| p.starts_with("worker-") && !before.contains(p))
        .collect();
    assert_eq!(after.len(), 2, "the rollout made two new worker pods");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    while !after
        .iter()
        .all(|pod| seen.iter().any(|l| l.starts_with(&format!("{pod} | "))))
    {
        assert!(
            Instant::now() < deadline,
            "new pods' lines never came: {seen:?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
}

#[test]
fn logs_follow_a_container_started_again() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "restarts", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    // The simulated nodes restart a container of an image tagged `restarts`
    // every 3 s; each run writes its own first line.
    project.edit(
        "image: quickstart/worker:0.1.0",
        "image: quickstart/worker:restarts",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let (_following, lines) = project.running(&["logs", "-e", "production", "-f", "worker"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut runs = std::collections::BTreeSet::new();
    let mut seen = Vec::new();
    // Two runs begun after berth started to follow: each new container's log.
    while runs.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the restarted containers' lines never came: {seen:?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            if let Some(run) = line.split(" run ").nth(1) {
                runs.insert(run.to_owned());
            }
            seen.push(line);
        }
    }
}

#[test]
fn a_migration_waits_for_a_backup_in_the_object_store_the_cron_jobs_send_to() {
    let Some(kubeconfig) = cluster() else { return };
    if support::missing("s3s-fs") {
        return;
    }
    let [port] = support::free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: gate\nservices:\n  db: {{ kind: postgres, backup: {{ rpo: 1h }} }}\n  migrate: {{ kind: job, image: \"app:1\", depends_on: [db] }}\nenvironments:\n  cluster:\n    runtime: kubernetes\n    namespace: NAMESPACE\n    backups: {{ to: s3://backups/gate, endpoint: http://127.0.0.1:{port} }}\n"
    );
    let project = Project::from_yaml(&yaml, "gate", kubeconfig);
    let root = project.dir.join("s3-root");
    std::fs::create_dir_all(root.join("backups")).unwrap();
    let _server = support::s3::Server::start(&root, port);
    let credentials = [
        ("AWS_ACCESS_KEY_ID", support::s3::KEY),
        ("AWS_SECRET_ACCESS_KEY", support::s3::SECRET),
    ];
    let berth = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .current_dir(&project.dir)
            .env("KUBECONFIG", &project.kubeconfig)
            .env("NO_COLOR", "1")
            .envs(credentials)
            .output()
            .unwrap()
    };
    // The CronJob's upload container reads these; the pre-flight asks for them.
    project.secret(
        "gate-backups",
        &["AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s"],
    );
    // The first deployment makes the store: nothing to lose yet.
    assert_exit(&berth(&["deploy"]), 0);

    project.edit("image: \"app:1\"", "image: \"app:2\"");
    let dry = assert_exit(&berth(&["deploy", "--dry-run"]), 0);
    assert!(
        dry.contains("backup first:")
            && dry.contains("`migrate` runs against `db`, which has no backup (RPO 1h)"),
        "{dry}"
    );
    // A changed Job cannot be dry-run (its template is immutable): it is shown as made anew.
    assert!(dry.contains("/migrate (deleted and made anew)"), "{dry}");
    let refused = assert_exit(&berth(&["deploy"]), 2);
    assert!(
        // However the help is wrapped (at a hyphen, too).
        refused
            .split_whitespace()
            .collect::<String>()
            .contains("--from=cronjob/db-backupdb-backup-now"),
        "{refused}"
    );
    assert_eq!(
        project
            .get("jobs", "IMAGE:.spec.template.spec.containers[0].image")
            .trim(),
        "app:1",
        "nothing was applied"
    );

    // What the CronJob sends: a whole backup, its manifest last.
    let taken = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let id = "20261203-000000";
    let folder = root.join(format!("backups/gate/cluster/db/{id}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("manifest.json"),
        format!(r#"{{"id":"{id}","environment":"cluster","service":"db","kind":"postgres","revision":null,"taken_at":"{taken}","files":[],"census":{{}}}}"#),
    )
    .unwrap();
    assert_exit(&berth(&["deploy"]), 0);
    assert_eq!(
        project
            .get("jobs", "IMAGE:.spec.template.spec.containers[0].image")
            .trim(),
        "app:2"
    );

    // Without an object store berth cannot see the cluster's backups: it says
    // what it did not check, and goes on.
    project.edit("    backups:", "    # backups:");
    project.edit("image: \"app:2\"", "image: \"app:3\"");
    let unchecked = assert_exit(&berth(&["deploy"]), 0);
    assert!(
        unchecked.contains("note: not checked: `migrate` runs against `db`"),
        "{unchecked}"
    );
}

/// A CRD that serves `kind` of `group`, taking any spec: where no gateway
/// controller or mesh is installed, the API server's storing what berth sets
/// is what is tested, not the real CRD's schema. A `*.k8s.io` group needs the
/// approval annotation the real CRDs carry.
fn crd(group: &str, version: &str, kind: &str, approved: bool) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    let annotations = if approved {
        r#", "annotations": { "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/1538" }"#
    } else {
        ""
    };
    format!(
        r#"{{ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {{ "name": "{plural}.{group}"{annotations} }},
  "spec": {{ "group": "{group}", "scope": "Namespaced",
    "names": {{ "plural": "{plural}", "singular": "{singular}", "kind": "{kind}", "listKind": "{kind}List" }},
    "versions": [{{ "name": "{version}", "served": true, "storage": true,
      "schema": {{ "openAPIV3Schema": {{ "type": "object", "x-kubernetes-preserve-unknown-fields": true }} }} }}] }} }}"#,
        singular = kind.to_lowercase(),
    )
}

/// Applies `crd` and waits until its kind is served.
fn serve(project: &Project, crd: &str) {
    let mut apply = Command::new("kubectl")
        .args(["apply", "--validate=false", "-f", "-"])
        .env("KUBECONFIG", &project.kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(apply.stdin.as_mut().unwrap(), crd.as_bytes()).unwrap();
    drop(apply.stdin.take());
    assert!(apply.wait().unwrap().success());
    let definition: serde_json::Value = serde_json::from_str(crd).unwrap();
    let group = definition["spec"]["group"].as_str().unwrap().to_owned();
    let kind = definition["spec"]["names"]["kind"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until(
        &format!("{kind} is served"),
        Duration::from_secs(30),
        || {
            project
                .kubectl(&["api-resources", &format!("--api-group={group}")])
                .contains(&kind)
        },
    );
}

/// The web backends of the route: `name:weight` each, in order.
fn web_backends(project: &Project) -> String {
    let route = project.object("httproute", "quickstart-routes");
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["backendRefs"].as_array().into_iter().flatten())
        .filter(|b| b["name"].as_str().is_some_and(|n| n.starts_with("web")))
        .map(|b| format!("{}:{}", b["name"].as_str().unwrap(), b["weight"]))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn a_canary_behind_an_http_route_gets_its_weight_from_the_route() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "route", kubeconfig, "quickstart");
    serve(
        &project,
        &crd("gateway.networking.k8s.io", "v1", "HTTPRoute", true),
    );
    project.secret("quickstart", &["session-secret=s"]);
    project.edit(
        "    production: true\n",
        "    production: true\n    gateway: { kind: http_route, parent: infra/edge }\n",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    assert_eq!(web_backends(&project), "web:null");

    project.edit(
        "image: quickstart/web:0.1.0",
        "image: quickstart/web:0.2.0\n    rollout: { strategy: canary, steps: [25, 100], pause: 3s }",
    );
    let deploying = deploy_in_background(&project);
    wait_until(
        "the route never gave the canary 25%",
        Duration::from_secs(60),
        || web_backends(&project) == "web:75,web-canary:25",
    );
    let selector = web_selector(&project);
    assert!(
        selector.contains("pod-template-hash"),
        "the stable Service keeps to the stable pods: {selector}"
    );
    assert!(project.names("services").contains(&"web-canary".to_owned()));
    let said = assert_exit(&deploying.wait_with_output().unwrap(), 0);
    assert!(
        said.contains("weight 25%: the HTTPRoute sends 25% to web-canary"),
        "{said}"
    );
    assert!(
        said.contains("at 25% of the traffic through the HTTPRoute"),
        "the plan says so: {said}"
    );
    assert_eq!(web_backends(&project), "web:null", "the route as rendered");
    let selector = web_selector(&project);
    assert!(!selector.contains("pod-template-hash"), "{selector}");
    assert!(!project.names("services").contains(&"web-canary".to_owned()));
    assert!(
        !project
            .names("deployments")
            .contains(&"web-canary".to_owned())
    );

    // A canary that fails puts the route back before it goes.
    project.edit(
        "image: quickstart/web:0.2.0",
        "image: quickstart/web:does-not-exist",
    );
    let failed = assert_exit(&project.berth(&["deploy", "-e", "production"]), 1);
    assert!(failed.contains("rolled back"), "{failed}");
    assert_eq!(web_backends(&project), "web:null");
    assert!(!project.names("services").contains(&"web-canary".to_owned()));
    let selector = web_selector(&project);
    assert!(!selector.contains("pod-template-hash"), "{selector}");

    // A berth killed while the route gives the canary its share: the next
    // deployment puts the route and the Service back before anything else.
    project.edit(
        "image: quickstart/web:does-not-exist\n    rollout: { strategy: canary, steps: [25, 100], pause: 3s }",
        "image: quickstart/web:0.3.0\n    rollout: { strategy: canary, steps: [50, 100], pause: 5m }",
    );
    let mut killed = deploy_in_background(&project);
    wait_until(
        "the route never gave the canary 50%",
        Duration::from_secs(60),
        || web_backends(&project) == "web:50,web-canary:50",
    );
    killed.kill().unwrap();
    killed.wait().unwrap();
    project.edit(
        "image: quickstart/web:0.3.0\n    rollout: { strategy: canary, steps: [50, 100], pause: 5m }",
        "image: quickstart/web:0.2.0",
    );
    let healed = assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    assert!(healed.contains("was interrupted"), "{healed}");
    assert_eq!(web_backends(&project), "web:null", "{healed}");
    let selector = web_selector(&project);
    assert!(!selector.contains("pod-template-hash"), "{selector}");
    assert!(!project.names("services").contains(&"web-canary".to_owned()));
}

#[test]
fn an_autoscaled_deployment_keeps_the_replicas_its_autoscaler_set() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "autoscaled", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    assert_eq!(
        project.get("deployment/api", "R:.spec.replicas").trim(),
        "3"
    );
    // What the HorizontalPodAutoscaler does under load.
    project.kubectl(&[
        "scale",
        "deployment/api",
        "-n",
        &project.namespace,
        "--replicas=5",
    ]);
    project.edit(
        "image: quickstart/api:0.1.0\n    local",
        "image: quickstart/api:0.2.0\n    local",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let api = project.get(
        "deployment/api",
        "IMAGE:.spec.template.spec.containers[0].image,R:.spec.replicas",
    );
    assert_eq!(
        api.split_whitespace().collect::<Vec<_>>(),
        ["quickstart/api:0.2.0", "5"],
        "the new version, at the autoscaler's count: {api}"
    );
    // A Deployment without an autoscaler is scaled as berth.yaml says.
    project.kubectl(&[
        "scale",
        "deployment/worker",
        "-n",
        &project.namespace,
        "--replicas=4",
    ]);
    project.edit(
        "image: quickstart/worker:0.1.0",
        "image: quickstart/worker:0.2.0",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    assert_eq!(
        project.get("deployment/worker", "R:.spec.replicas").trim(),
        "2"
    );
}

#[test]
fn port_forward_reaches_a_ready_pod_and_the_next_one_after_a_rollout() {
    let Some(kubeconfig) = cluster() else { return };
    let [port, local] = support::free_ports(2)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: pf\nservices:\n  api: {{ image: \"api:1\", ports: {{ http: {port} }}, health: {{ readiness: /ready }} }}\nenvironments:\n  cluster: {{ runtime: kubernetes, namespace: NAMESPACE }}\n"
    );
    let project = Project::from_yaml(&yaml, "forward", kubeconfig);
    let _answering = answering(port);
    assert_exit(&project.berth(&["deploy"]), 0);
    let (_forwarding, lines) = project.running(&["port-forward", "api", &format!("{local}:http")]);
    let answers = || support::get(local, "/healthz").contains(" 200 ");
    let first = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        first.starts_with(&format!(
            "Forwarding from 127.0.0.1:{local} -> {port} (pod api-"
        )),
        "{first}"
    );
    for _ in 0..3 {
        assert!(answers());
    }

    project.edit("image: \"api:1\"", "image: \"api:2\"");
    assert_exit(&project.berth(&["deploy"]), 0);
    let gone = first
        .rsplit("(pod ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    wait_until("the old pod never went", Duration::from_secs(30), || {
        !project.names("pods").contains(&gone)
    });
    assert!(answers());
    let next = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        next.starts_with("Forwarding to pod api-") && !next.contains(&gone),
        "{next}"
    );
}

#[test]
fn blue_green_runs_its_smoke_checks_against_the_preview_before_the_switch() {
    let Some(kubeconfig) = cluster() else { return };
    let [port] = support::free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: smoke\nservices:\n  api:\n    image: \"api:1\"\n    ports: {{ http: {port} }}\n    health: {{ readiness: /ready }}\n    rollout: {{ strategy: blue_green, keep_previous: 1s, smoke: [{{ path: /healthz, body: ok }}] }}\nenvironments:\n  cluster: {{ runtime: kubernetes, namespace: NAMESPACE }}\n"
    );
    let project = Project::from_yaml(&yaml, "smoke", kubeconfig);
    let _answering = answering(port);
    assert_exit(&project.berth(&["deploy"]), 0);
    project.edit("image: \"api:1\"", "image: \"api:2\"");
    let passed = assert_exit(&project.berth(&["deploy"]), 0);
    assert!(
        passed.contains("1 smoke checks passed against the preview, through a port-forward"),
        "{passed}"
    );
    // A check the preview fails: the Service is never switched to it.
    project.edit("body: ok", "body: never-said");
    project.edit("image: \"api:2\"", "image: \"api:3\"");
    let failed = assert_exit(&project.berth(&["deploy"]), 1);
    assert!(
        failed.contains(
            "smoke check GET /healthz failed against the preview: the body does not contain `never-said`"
        ),
        "{failed}"
    );
    assert!(
        failed.contains("the stable set kept every request"),
        "{failed}"
    );
    let api = project.get(
        "deployment/api",
        "IMAGE:.spec.template.spec.containers[0].image",
    );
    assert_eq!(api.trim(), "api:2");
    assert!(
        !project
            .names("deployments")
            .contains(&"api-preview".to_owned())
    );
}

#[test]
fn a_store_on_the_cluster_is_backed_up_restored_and_drilled_through_a_port_forward() {
    let Some(kubeconfig) = cluster() else { return };
    if support::missing("redis-server") {
        return;
    }
    let [port, local] = support::free_ports(2)[..] else {
        unreachable!()
    };
    let password = "not-for-logs-5e1c";
    let yaml = format!(
        "name: kb\nservices:\n  cache:\n    kind: redis\n    ports: {{ redis: {port} }}\n    secrets: {{ REDIS_PASSWORD: {{ kubernetes: {{ name: cache-auth, key: password }} }} }}\n    backup: {{ retention: 2, rto: 5m, rpo: 1h }}\nenvironments:\n  cluster: {{ runtime: kubernetes, namespace: NAMESPACE }}\n"
    );
    let project = Project::from_yaml(&yaml, "backup", kubeconfig);
    let mut said = String::new();
    let mut berth = |args: &[&str], code: i32| {
        let out = assert_exit(&project.berth(args), code);
        said += &out;
        out
    };
    let before = berth(&["backup", "-e", "cluster", "cache"], 2);
    assert!(
        before.contains("no pod of `cache` is ready") && before.contains("berth deploy -e cluster"),
        "{before}"
    );

    project.secret("cache-auth", &[&format!("password={password}")]);
    let _store = redis_server(port, password, &project.dir);
    berth(&["deploy", "-e", "cluster"], 0);
    // Written and read through berth's own port-forward, so that on a real
    // cluster it is the pod's Redis.
    let (_forwarding, lines) = project.running(&[
        "port-forward",
        "-e",
        "cluster",
        "cache",
        &format!("{local}:redis"),
    ]);
    lines.recv_timeout(Duration::from_secs(20)).unwrap();
    let redis = |args: &[&str]| redis_with(local, password, args);
    let pairs: Vec<String> = (0..300)
        .flat_map(|n| [format!("k:{n}"), format!("v{n}")])
        .collect();
    let mut mset = vec!["mset"];
    mset.extend(pairs.iter().map(String::as_str));
    redis(&mset);
    redis(&["set", "an odd key\nwith a newline", "odd"]);
    redis(&["hset", "h", "f", "v"]);
    redis(&["set", "expiring", "e", "EX", "3600"]);
    redis(&["-n", "3", "set", "three", "3"]);

    let taken = berth(&["backup", "-e", "cluster"], 0);
    assert!(taken.contains("backed up `cache`"), "{taken}");
    let folder = project.dir.join(".berth/backups/cluster/cache");
    let id = std::fs::read_dir(&folder)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join(&id).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let revision = project.get(
        "statefulset/cache",
        "R:.metadata.labels.berth\\.dev/revision",
    );
    assert_eq!(
        manifest["revision"].as_str(),
        Some(revision.trim()),
        "{manifest}"
    );

    redis(&["set", "k:1", "changed"]);
    redis(&["set", "added", "later"]);
    redis(&["-n", "3", "flushdb"]);
    let restored = berth(&["restore", "-e", "cluster", "cache", "--yes"], 0);
    assert!(
        restored.contains("restored `cache` from backup"),
        "{restored}"
    );
    assert_eq!(redis(&["get", "k:1"]), "v1");
    assert_eq!(redis(&["get", "k:299"]), "v299");
    assert_eq!(redis(&["exists", "added"]), "0");
    assert_eq!(redis(&["get", "an odd key\nwith a newline"]), "odd");
    assert_eq!(redis(&["hget", "h", "f"]), "v");
    assert!(redis(&["ttl", "expiring"]).parse::<i64>().unwrap() > 3000);
    assert_eq!(redis(&["-n", "3", "get", "three"]), "3");
    assert_eq!(redis(&["dbsize"]), "303");

    let drilled = berth(&["backup", "drill", "-e", "cluster"], 0);
    assert!(
        drilled.contains("RTO") && drilled.contains("(target 5m: met)"),
        "{drilled}"
    );
    let listed = berth(&["backup", "list", "-e", "cluster"], 0);
    assert!(
        listed.contains(&format!("{} (RTO", id.to_string_lossy())),
        "{listed}"
    );

    project.kubectl(&["delete", "secret", "cache-auth", "-n", &project.namespace]);
    project.secret("cache-auth", &["other=x"]);
    let keyless = berth(&["backup", "-e", "cluster", "cache"], 2);
    assert!(
        keyless.contains("cache-auth, key `password`") && keyless.contains("has no such key"),
        "{keyless}"
    );
    assert!(keyless.contains("--from-literal=password=…"), "{keyless}");
    assert!(!said.contains(password), "{said}");
}

/// A Redis answering on `port` with `password`: on simulated nodes, what a
/// pod's port reaches; on a real cluster, never asked.
fn redis_server(port: u16, password: &str, dir: &Path) -> Ended {
    Ended(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                password,
            ])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `redis-cli -p PORT ARGS…` logged in with `password`, which must succeed.
fn redis_with(port: u16, password: &str, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .env("REDISCLI_AUTH", password)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// What answers in a pod on `port`: on simulated nodes, which forward a
/// pod's port to this machine's port of the same number, a workload here;
/// on a real cluster the image's own server answers instead.
fn answering(port: u16) -> Ended {
    Ended(
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["workload", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A child killed when the test ends, however it ends.
struct Ended(std::process::Child);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_canary_behind_an_istio_virtual_service_gets_its_weight_from_it() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "istio", kubeconfig, "quickstart");
    for kind in ["VirtualService", "Gateway"] {
        serve(
            &project,
            &crd("networking.istio.io", "v1beta1", kind, false),
        );
    }
    project.secret("quickstart", &["session-secret=s"]);
    project.edit(
        "    production: true\n",
        "    production: true\n    gateway: { kind: istio }\n",
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);
    let destinations = || {
        let route = project.object("virtualservice", "quickstart-routes");
        route["spec"]["http"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|http| http["route"].as_array().into_iter().flatten())
            .filter_map(|d| {
                let host = d["destination"]["host"].as_str()?;
                host.starts_with("web")
                    .then(|| format!("{}:{}", host.split('.').next().unwrap(), d["weight"]))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(destinations(), "web:null");
    project.edit(
        "image: quickstart/web:0.1.0",
        "image: quickstart/web:0.2.0\n    rollout: { strategy: canary, steps: [25, 100], pause: 3s }",
    );
    let deploying = deploy_in_background(&project);
    wait_until(
        "the VirtualService never gave the canary 25%",
        Duration::from_secs(60),
        || destinations() == "web:75,web-canary:25",
    );
    let said = assert_exit(&deploying.wait_with_output().unwrap(), 0);
    assert!(
        said.contains("the VirtualService sends 25% to web-canary"),
        "{said}"
    );
    assert_eq!(destinations(), "web:null", "the VirtualService as rendered");
    assert!(!project.names("services").contains(&"web-canary".to_owned()));
}

/// The web Service's selector, as JSON.
fn web_selector(project: &Project) -> String {
    project.kubectl(&[
        "get",
        "service",
        "web",
        "-n",
        &project.namespace,
        "-o",
        "jsonpath={.spec.selector}",
    ])
}

/// `berth deploy` in the background, its output collected.
fn deploy_in_background(project: &Project) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["deploy", "-e", "production"])
        .current_dir(&project.dir)
        .env("KUBECONFIG", &project.kubeconfig)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut holds: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !holds() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn promote_and_abort_reach_the_deploying_berth_through_the_lease() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "control", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    let none = assert_exit(&project.berth(&["abort", "-e", "production"]), 2);
    assert!(
        none.contains("no deployment of `production` is under way"),
        "{none}"
    );
    assert_exit(&project.berth(&["deploy", "-e", "production"]), 0);

    // A canary paused for five minutes is aborted at once: the stable set is restored.
    project.edit(
        "image: quickstart/web:0.1.0",
        "image: quickstart/web:0.2.0\n    rollout: { strategy: canary, steps: [50, 100], pause: 5m }",
    );
    let running = deploy_in_background(&project);
    wait_until("the canary never started", Duration::from_secs(60), || {
        project
            .names("deployments")
            .contains(&"web-canary".to_owned())
    });
    let started = Instant::now();
    assert_exit(&project.berth(&["abort", "-e", "production"]), 0);
    let said = assert_exit(&running.wait_with_output().unwrap(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        said.contains("aborted by `berth abort`") && said.contains("deployment 2 aborted"),
        "{said}"
    );
    assert!(
        !project
            .names("deployments")
            .contains(&"web-canary".to_owned())
    );
    let web = project.get(
        "deployment/web",
        "IMAGE:.spec.template.spec.containers[0].image,R:.spec.replicas",
    );
    assert_eq!(
        web.split_whitespace().collect::<Vec<_>>(),
        ["quickstart/web:0.1.0", "2"],
        "{web}"
    );

    // A manual blue-green waits for `berth promote` before it switches.
    project.edit(
        "rollout: { strategy: canary, steps: [50, 100], pause: 5m }",
        "rollout: { strategy: blue_green, manual_promotion: true, keep_previous: 1s }",
    );
    let running = deploy_in_background(&project);
    wait_until("the preview never started", Duration::from_secs(60), || {
        project
            .names("deployments")
            .contains(&"web-preview".to_owned())
    });
    std::thread::sleep(Duration::from_secs(3));
    let selector = web_selector(&project);
    assert!(
        !selector.contains("preview"),
        "switched before promote: {selector}"
    );
    assert_exit(&project.berth(&["promote", "-e", "production"]), 0);
    let said = assert_exit(&running.wait_with_output().unwrap(), 0);
    assert!(
        said.contains("waiting for `berth promote`") && said.contains("switched the Service"),
        "{said}"
    );
    assert!(
        project
            .get(
                "deployment/web",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("0.2.0")
    );
}

#[test]
fn data_stores_roll_as_stateful_sets_and_keep_their_claims_until_down_volumes() {
    let Some(kubeconfig) = cluster() else { return };
    let dir = support::scratch("kube-stores");
    let namespace = format!("berth-e2e-stores-{}", std::process::id());
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "name: shop\nservices:\n  db:\n    kind: postgres\n    version: \"16\"\n  api:\n    image: shop/api:1.0.0\n    ports: {{ http: 8080 }}\n    depends_on: {{ db: healthy }}\nenvironments:\n  cluster:\n    runtime: kubernetes\n    namespace: {namespace}\n"
        ),
    )
    .unwrap();
    let project = Project {
        dir,
        kubeconfig,
        namespace,
    };
    assert_exit(&project.berth(&["deploy", "-e", "cluster"]), 0);
    assert_eq!(
        project
            .get("statefulset/db", "READY:.status.readyReplicas")
            .trim(),
        "1"
    );
    project.edit("version: \"16\"", "version: \"17\"");
    let rolled = assert_exit(&project.berth(&["deploy", "-e", "cluster"]), 0);
    assert!(
        rolled.contains("the StatefulSet's rolling update"),
        "{rolled}"
    );
    assert!(
        project
            .get(
                "statefulset/db",
                "IMAGE:.spec.template.spec.containers[0].image"
            )
            .contains("17")
    );
    let claims = project.names("pvc");
    assert_eq!(claims, ["data-db-0"], "{claims:?}");
    let down = assert_exit(&project.berth(&["down", "-e", "cluster"]), 0);
    assert!(
        down.contains("StatefulSet/") && !down.contains("PersistentVolumeClaim"),
        "{down}"
    );
    assert_eq!(project.names("pvc"), ["data-db-0"], "the data stays");
    let gone = assert_exit(&project.berth(&["down", "-e", "cluster", "--volumes"]), 0);
    assert!(gone.contains("PersistentVolumeClaim/"), "{gone}");
    assert!(project.names("pvc").is_empty());
}

/// Run everywhere, with no cluster: what berth says when the kubeconfig or
/// its cluster is not there.
#[test]
fn port_forward_says_what_it_cannot_forward() {
    let dir = support::scratch("kube-forward-refused");
    std::fs::write(
        dir.join("berth.yaml"),
        "name: pf\nservices:\n  api: { image: \"api:1\", ports: { http: 9001 } }\nenvironments:\n  local: {}\n  cluster: { runtime: kubernetes }\n",
    )
    .unwrap();
    let berth = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let here = assert_exit(&berth(&["port-forward", "-e", "local", "api"]), 2);
    assert!(here.contains("there is nothing to forward"), "{here}");
    let unknown = assert_exit(&berth(&["port-forward", "-e", "cluster", "api", "grpc"]), 2);
    assert!(
        unknown.contains("`grpc` is no port of `api`; its ports are http (9001)"),
        "{unknown}"
    );
    let bad = assert_exit(
        &berth(&["port-forward", "-e", "cluster", "api", "x:http"]),
        2,
    );
    assert!(bad.contains("`x` is not a local port"), "{bad}");
    let nobody = assert_exit(&berth(&["port-forward", "-e", "cluster", "web"]), 2);
    assert!(nobody.contains("`web` is no service of `pf`"), "{nobody}");
}

#[test]
fn an_unknown_context_or_a_cluster_that_does_not_answer_is_said_plainly() {
    let dir = support::scratch("kube-unreachable");
    let port = support::free_ports(1)[0];
    std::fs::write(
        dir.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{ server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true }}\nusers:\n- name: u\n  user: {{ token: t }}\ncontexts:\n- name: gone\n  context: {{ cluster: gone, user: u }}\ncurrent-context: gone\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("berth.yaml"),
        "name: shop\nservices:\n  api: { image: shop/api:1, ports: { http: 8080 } }\nenvironments:\n  prod: { runtime: kubernetes }\n",
    )
    .unwrap();
    let project = Project {
        dir: dir.clone(),
        kubeconfig: dir.join("kubeconfig"),
        namespace: String::new(),
    };
    let unknown = assert_exit(
        &project.berth(&["deploy", "-e", "prod", "--context", "nope"]),
        2,
    );
    assert!(
        unknown.contains("the kubeconfig has no context `nope`; it has: gone"),
        "{unknown}"
    );
    let unreachable = assert_exit(&project.berth(&["status", "-e", "prod"]), 2);
    assert!(unreachable.contains("os error 111"), "{unreachable}");
    assert!(
        unreachable.contains("kubectl cluster-info"),
        "{unreachable}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["history", "-e", "prod"])
        .current_dir(&dir)
        .env("KUBECONFIG", dir.join("no-such-file"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = assert_exit(&missing, 2);
    assert!(
        said.contains("cannot read a kubeconfig") && said.contains("KUBECONFIG"),
        "{said}"
    );
}

#[test]
fn an_object_of_the_same_name_that_is_someone_elses_is_never_taken_over_or_deleted() {
    let Some(kubeconfig) = cluster() else { return };
    let project = Project::from_example("quickstart", "theirs", kubeconfig, "quickstart");
    project.secret("quickstart", &["session-secret=s"]);
    project.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "-n",
        &project.namespace,
    ]);
    let refused = assert_exit(&project.berth(&["deploy", "-e", "production"]), 1);
    assert!(
        refused.contains(&format!(
            "Deployment/{}/web exists and is not berth's",
            project.namespace
        )),
        "{refused}"
    );
    let web = project.get(
        "deployment/web",
        "IMAGE:.spec.template.spec.containers[0].image",
    );
    assert!(web.contains("nginx:1.27"), "theirs is untouched: {web}");
    let labels = project.kubectl(&[
        "get",
        "deployment",
        "web",
        "-n",
        &project.namespace,
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("berth"), "{labels}");
    let down = assert_exit(&project.berth(&["down", "-e", "production"]), 0);
    let theirs = format!("Deployment/{}/web", project.namespace);
    assert!(!down.lines().any(|l| l.trim() == theirs), "{down}");
    assert!(
        project.names("deployments").contains(&"web".to_owned()),
        "down leaves theirs alone"
    );
}

/// A kubeconfig for the project's cluster that logs in as the ServiceAccount
/// `account`, holding the `admin` role in the project's namespace only — how
/// teams share a cluster — written into the project's folder.
fn namespaced_user(project: &Project, account: &str) -> PathBuf {
    let namespace = &project.namespace;
    project.kubectl(&["create", "namespace", namespace]);
    project.kubectl(&["create", "serviceaccount", account, "-n", namespace]);
    project.kubectl(&[
        "create",
        "rolebinding",
        account,
        "--clusterrole=admin",
        &format!("--serviceaccount={namespace}:{account}"),
        "-n",
        namespace,
    ]);
    let token = project.kubectl(&["create", "token", account, "-n", namespace]);
    let raw = project.kubectl(&["config", "view", "--raw", "--minify", "-o", "json"]);
    let config: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let cluster = &config["clusters"][0]["cluster"];
    let user = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "team",
        "clusters": [{ "name": "team", "cluster": cluster }],
        "users": [{ "name": account, "user": { "token": token.trim() } }],
        "contexts": [{ "name": "team", "context": { "cluster": "team", "user": account, "namespace": namespace } }],
    });
    let path = project.dir.join("team.kubeconfig");
    std::fs::write(&path, user.to_string()).unwrap();
    path
}

#[test]
fn a_user_with_rights_in_one_namespace_deploys_rolls_back_and_takes_down_there() {
    let Some(kubeconfig) = cluster() else { return };
    let admin = Project::from_example("quickstart", "team", kubeconfig, "quickstart");
    let team = Project {
        kubeconfig: namespaced_user(&admin, "deployer"),
        dir: admin.dir.clone(),
        namespace: admin.namespace.clone(),
    };
    assert!(
        team.kubectl(&["get", "namespaces"]).contains("forbidden"),
        "the user sees no other namespace"
    );
    team.secret("quickstart", &["session-secret=s"]);
    let deploy = ["deploy", "-e", "production"];
    let first = assert_exit(&team.berth(&deploy), 0);
    assert!(first.contains("deployment 1 succeeded"), "{first}");
    team.edit("image: quickstart/web:0.1.0", "image: quickstart/web:0.2.0");
    let dry = assert_exit(&team.berth(&["deploy", "-e", "production", "--dry-run"]), 0);
    assert!(
        dry.contains("+        image: quickstart/web:0.2.0"),
        "{dry}"
    );
    assert_exit(&team.berth(&deploy), 0);
    assert_exit(
        &team.berth(&["rollback", "-e", "production", "--to", "1"]),
        0,
    );
    assert!(
        team.get(
            "deployment/web",
            "IMAGE:.spec.template.spec.containers[0].image"
        )
        .contains("0.1.0")
    );
    let down = assert_exit(&team.berth(&["down", "-e", "production"]), 0);
    assert!(down.contains("Deployment/"), "{down}");
    assert!(team.names("deployments").is_empty());
}
