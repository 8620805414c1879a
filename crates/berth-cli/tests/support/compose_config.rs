//! What Docker Compose itself makes of a project: `docker compose config
//! --format json`, every profile on, reduced to what decides how the services
//! run — image, argv, published ports, environment, dependencies, healthcheck,
//! volume targets, user and working folder — so that two projects can be
//! compared service by service.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// One service as compose runs it.
#[derive(Debug, PartialEq, Eq)]
pub struct Running {
    /// None when the service is only built.
    pub image: Option<String>,
    /// The entrypoint and command, each as written or None for the image's own.
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// Host address (empty for every address), host port, container port.
    pub ports: BTreeSet<(String, String, u64)>,
    pub environment: BTreeMap<String, Option<String>>,
    pub depends_on: BTreeMap<String, String>,
    pub healthcheck: bool,
    pub volume_targets: BTreeSet<String>,
    pub profiles: BTreeSet<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
}

/// The differences between compose's config of the original `files` (in
/// `original`) and of what `berth render --to compose` writes from the
/// berth.yaml imported into `project`, less what the import's `notes` say
/// berth gives a data store on purpose; None, said, where Compose v2 is missing.
pub fn rendered_differences(
    original: &Path,
    files: &[&str],
    project: &Path,
    notes: &str,
) -> Option<Vec<String>> {
    let Some(compose) = super::compose().filter(|c| c[0] == "docker") else {
        super::not_run(
            "docker compose (v2) is missing: imports are not compared with compose's own config",
        );
        return None;
    };
    let before = config(&compose, original, files).expect("the original is valid");
    let render = super::berth(
        project,
        "import",
        &["-e", "docker", "render", "--to", "compose", "--dir", "out"],
    );
    assert!(render.status.success(), "{}", super::text(&render));
    let after = config(
        &compose,
        project,
        &["out/compose.data.yaml", "out/compose.services.yaml"],
    )
    .unwrap_or_else(|e| panic!("the rendered files are valid: {e}"));
    assert_eq!(
        project_name(&before).is_some(),
        project_name(&after).is_some(),
        "the rendered project is named"
    );
    Some(
        differences(&services(&before), &services(&after))
            .into_iter()
            .filter(|d| !given_to_a_data_store(d, notes))
            .collect(),
    )
}

/// berth gives a data store that has none a volume for its data and its
/// readiness probe, and its notes say so.
fn given_to_a_data_store(difference: &str, notes: &str) -> bool {
    (difference.contains(": volume targets: compose has {}")
        && notes.contains("keeps its data in no volume"))
        || (difference.contains(": healthcheck: compose has false, berth true")
            && notes.contains("has no healthcheck; berth gives this"))
}

/// `docker compose -f FILE... config` run in `dir`, or the error it printed.
pub fn config(compose: &[&str], dir: &Path, files: &[&str]) -> Result<Value, String> {
    let mut command = Command::new(compose[0]);
    command.args(&compose[1..]);
    for file in files {
        command.args(["-f", file]);
    }
    let output = command
        .args(["--profile", "*", "config", "--format", "json"])
        .current_dir(dir)
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROFILES")
        .output()
        .map_err(|e| format!("{}: {e}", compose.join(" ")))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("config is not JSON: {e}"))
}

/// Each service of a `config` output, by a name that berth's renaming keeps.
pub fn services(config: &Value) -> BTreeMap<String, Running> {
    let Some(services) = config["services"].as_object() else {
        return BTreeMap::new();
    };
    services
        .iter()
        .map(|(name, spec)| (dns_name(name), running(spec)))
        .collect()
}

/// The project's name, as compose names its containers and volumes.
pub fn project_name(config: &Value) -> Option<&str> {
    config["name"].as_str()
}

/// berth's names are DNS labels: `db_main` is `db-main`.
pub fn dns_name(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

fn running(spec: &Value) -> Running {
    let words = |value: &Value| {
        value.as_array().map(|items| {
            items
                .iter()
                .map(|w| w.as_str().unwrap_or_default().to_owned())
                .collect()
        })
    };
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    Running {
        image: spec["image"].as_str().map(str::to_owned),
        entrypoint: words(&spec["entrypoint"]),
        command: words(&spec["command"]),
        // berth's ports are TCP; the import notes each other one.
        ports: list(&spec["ports"])
            .iter()
            .filter(|port| port["protocol"].as_str().is_none_or(|p| p == "tcp"))
            .map(|port| {
                (
                    port["host_ip"].as_str().unwrap_or_default().to_owned(),
                    port["published"].as_str().unwrap_or_default().to_owned(),
                    port["target"].as_u64().unwrap_or_default(),
                )
            })
            .collect(),
        environment: spec["environment"]
            .as_object()
            .map(|env| {
                env.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
                    .collect()
            })
            .unwrap_or_default(),
        depends_on: spec["depends_on"]
            .as_object()
            .map(|deps| {
                deps.iter()
                    .map(|(name, d)| {
                        (
                            dns_name(name),
                            d["condition"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        healthcheck: spec["healthcheck"].is_object() && spec["healthcheck"]["disable"] != true,
        volume_targets: list(&spec["volumes"])
            .iter()
            .filter_map(|v| v["target"].as_str().map(str::to_owned))
            .collect(),
        profiles: list(&spec["profiles"])
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect(),
        user: spec["user"].as_str().map(str::to_owned),
        working_dir: spec["working_dir"].as_str().map(str::to_owned),
    }
}

/// Where two projects' services differ, one line each; none when they agree.
/// Values of variables whose names berth takes for secrets are compared by
/// presence only: berth writes them as references. An empty value and none are one: compose
/// fills an unset `${VAR}` with nothing, berth passes VAR through unset.
pub fn differences(
    original: &BTreeMap<String, Running>,
    rendered: &BTreeMap<String, Running>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, want) in original {
        let Some(got) = rendered.get(name) else {
            out.push(format!("{name}: not rendered"));
            continue;
        };
        let mut differ = |what: &str, want: String, got: String| {
            if want != got {
                out.push(format!("{name}: {what}: compose has {want}, berth {got}"));
            }
        };
        if want.image.is_some() {
            differ(
                "image",
                format!("{:?}", want.image),
                format!("{:?}", got.image),
            );
        }
        differ(
            "argv",
            format!("{:?} {:?}", want.entrypoint, want.command),
            format!("{:?} {:?}", got.entrypoint, got.command),
        );
        differ(
            "ports",
            format!("{:?}", want.ports),
            format!("{:?}", got.ports),
        );
        differ(
            "environment",
            format!("{:?}", comparable(&want.environment)),
            format!("{:?}", comparable(&got.environment)),
        );
        differ(
            "depends_on",
            format!("{:?}", want.depends_on),
            format!("{:?}", got.depends_on),
        );
        differ(
            "healthcheck",
            want.healthcheck.to_string(),
            got.healthcheck.to_string(),
        );
        differ(
            "volume targets",
            format!("{:?}", want.volume_targets),
            format!("{:?}", got.volume_targets),
        );
        differ(
            "profiles",
            format!("{:?}", want.profiles),
            format!("{:?}", got.profiles),
        );
        differ(
            "user and folder",
            format!("{:?} {:?}", want.user, want.working_dir),
            format!("{:?} {:?}", got.user, got.working_dir),
        );
    }
    for name in rendered.keys().filter(|name| !original.contains_key(*name)) {
        out.push(format!("{name}: rendered, but not in the original"));
    }
    out
}

fn comparable(env: &BTreeMap<String, Option<String>>) -> BTreeMap<&str, Option<&str>> {
    env.iter()
        .map(|(key, value)| {
            let value = if berth_core::check::looks_secret(key) {
                Some("(secret)")
            } else {
                value.as_deref().filter(|v| !v.is_empty())
            };
            (key.as_str(), value)
        })
        .collect()
}
