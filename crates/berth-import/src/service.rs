//! One compose service, its files merged, as a berth service, key by key.

use std::collections::HashSet;

use berth_core::model::Kind;
use serde_json::{Map, Value, json};

use crate::document::{Field, Shape};
use crate::env::{Peers, environment};
use crate::health::{duration, readiness};
use crate::interpolate::Variables;
use crate::merge::{build_map, to_map};
use crate::note::Notes;
use crate::paths::Paths;
use crate::ports::ServicePorts;
use crate::resources::{byte_quantity, cpu_quantity, deploy_resources};

/// Keys read elsewhere (ports, extends), or that change nothing berth runs.
const READ_ELSEWHERE: &[&str] = &[
    "ports",
    "expose",
    "extends",
    "links",
    "container_name",
    "hostname",
];

/// What the project knows of the service before its keys are read.
pub struct Known<'p> {
    /// berth's name for the service.
    pub name: &'p str,
    pub kind: Kind,
    pub ports: &'p ServicePorts,
    pub peers: &'p Peers,
    /// Compose services that have a healthcheck of their own.
    pub healthchecked: &'p HashSet<String>,
    pub paths: &'p Paths,
    pub variables: &'p Variables,
}

pub fn service(definition: &Field, known: &Known, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    if known.kind != Kind::Service {
        out.insert("kind".into(), known.kind.name().into());
    }
    let mut limits = Map::new();
    for (key, field) in definition.entries() {
        match key.as_str() {
            "image" => {
                if let Some(image) = field.scalar() {
                    if let Some(variable) = image.unresolved.first() {
                        notes.add(&field.at, format!("the image names `{variable}`, which neither `.env` nor a default sets: compose reads it from its shell; write the tag"));
                    }
                    out.insert("image".into(), image.text.clone().into());
                }
            }
            "command" | "entrypoint" if matches!(field.shape, Shape::Null) => {}
            "command" | "entrypoint" => match argv(&field) {
                Some(argv) => {
                    out.insert(key, argv.into());
                }
                None if field.scalar().is_some() => notes.add(&field.at, format!("`{key}` has a quote that does not close, not carried over")),
                None => notes.add(&field.at, format!("`{key}` is neither a string nor a list, not carried over")),
            },
            "build" => {
                out.insert("build".into(), build(&field, known, notes));
            }
            "env_file" => {
                let files = env_files(&field, known, notes);
                if !files.is_empty() {
                    out.insert("env_file".into(), files.into());
                }
            }
            "environment" if !field.is_map() && field.scalar().is_some() => notes.add(&field.at, "`environment` is neither a mapping nor a list, not carried over"),
            "environment" => {}
            "depends_on" if field.scalar().is_some() => notes.add(&field.at, "`depends_on` is neither a mapping nor a list, not carried over"),
            "depends_on" => {
                out.insert("depends_on".into(), depends_on(&field, known, notes).into());
            }
            "healthcheck" => {
                let main = known.ports.ports.first().map(|p| p.target);
                if let Some(probe) = readiness(&field, main, notes) {
                    out.insert("health".into(), json!({ "readiness": probe }));
                }
            }
            // `deploy.restart_policy`, where there is one, says more.
            "restart" if definition.get("deploy").and_then(|d| d.get("restart_policy")).is_some() => {}
            "restart" => {
                if let Some(restart) = restart(&field, notes) {
                    out.insert("restart".into(), restart);
                }
            }
            "deploy" => deploy(&field, &mut out, notes),
            "cpus" => {
                if let Some(cpu) = field.text().and_then(|c| cpu_quantity(&c)) {
                    limits.insert("cpu_limit".into(), cpu.into());
                }
            }
            "mem_limit" | "mem_reservation" => {
                let berth = if key == "mem_limit" { "memory_limit" } else { "memory" };
                match field.text().and_then(|m| byte_quantity(&m)) {
                    Some(bytes) => {
                        limits.insert(berth.into(), bytes.into());
                    }
                    None => notes.add(&field.at, format!("`{key}` not carried over: not a size berth reads")),
                }
            }
            "labels" => labels(&field, &mut out),
            "user" | "working_dir" => {
                if let Some(text) = field.text() {
                    out.insert(key, text.into());
                }
            }
            "stop_grace_period" => {
                if let Some(period) = duration(&field, notes) {
                    out.insert("stop_grace_period".into(), period.into());
                }
            }
            "volumes" => {
                let mounts = volumes(&field, known, notes);
                if !mounts.is_empty() {
                    out.insert("volumes".into(), mounts.into());
                }
            }
            "profiles" => {
                let profiles: Vec<String> = field.items().iter().filter_map(Field::text).collect();
                out.insert("profiles".into(), profiles.into());
            }
            "networks" => notes.add(&field.at, "`networks` not carried over: berth puts every service of an environment on one network"),
            key if READ_ELSEWHERE.contains(&key) || key.starts_with("x-") => {}
            other => notes.add(
                &field.at,
                format!("`{other}` not carried over: berth.yaml has no such setting"),
            ),
        }
    }
    if let Some(store) = known.kind.data_store() {
        if !out.contains_key("health") {
            notes.add(&definition.at, format!("`{}` has no healthcheck; berth gives this {} store the readiness probe it knows for it", known.name, known.kind));
        }
        let kept = out
            .get("volumes")
            .and_then(Value::as_array)
            .is_some_and(|v| {
                v.iter().any(|m| {
                    m.as_str()
                        .is_some_and(|m| m.split(':').nth(1) == Some(store.data_dir))
                })
            });
        if !kept {
            notes.add(&definition.at, format!("`{}` keeps its data in no volume; berth keeps it in a volume of its own at {}, so that it outlives the container", known.name, store.data_dir));
        }
    }
    if let Some(links) = definition.get("links") {
        links_as_dependencies(links, known, &mut out, notes);
    }
    if !out.contains_key("restart") && known.kind != Kind::Job {
        // Compose's default, which berth's (on_failure) is not.
        out.insert("restart".into(), "never".into());
    }
    ports(known, &mut out);
    let environment = environment(
        definition.get("environment"),
        known.peers,
        known.variables,
        notes,
    );
    if !environment.env.is_empty() {
        out.insert("env".into(), json!(environment.env));
    }
    if !environment.secrets.is_empty() {
        out.insert("secrets".into(), json!(environment.secrets));
    }
    if !limits.is_empty() {
        let resources = out.entry("resources").or_insert_with(|| json!({}));
        if let Value::Object(resources) = resources {
            resources.extend(limits);
        }
    }
    out
}

/// `ports:` (unless a data store's are berth's own) and `publish:`, which
/// names every published port, and none when compose published none.
fn ports(known: &Known, out: &mut Map<String, Value>) {
    let ports = &known.ports.ports;
    if ports.is_empty() {
        return;
    }
    let default = known.kind.data_store().is_some_and(|store| {
        ports
            .iter()
            .all(|p| store.ports.contains(&(p.name.as_str(), p.target)))
    });
    if !default {
        let declared: Map<String, Value> = ports
            .iter()
            .map(|p| (p.name.clone(), p.target.into()))
            .collect();
        out.insert("ports".into(), declared.into());
    }
    let published: Map<String, Value> = known
        .ports
        .published
        .iter()
        .map(|(name, at)| (name.clone(), at.clone().into()))
        .collect();
    out.insert("publish".into(), published.into());
}

/// An argv as compose reads it: a string split into words as a shell would,
/// with nothing run through a shell.
fn argv(field: &Field) -> Option<Vec<String>> {
    match &field.shape {
        Shape::Scalar(scalar) => shell_words::split(&scalar.text).ok(),
        Shape::Seq(items) => Some(items.iter().filter_map(Field::text).collect()),
        _ => None,
    }
}

fn build(field: &Field, known: &Known, notes: &mut Notes) -> Value {
    let field = build_map(field);
    let mut build = Map::new();
    for (key, value) in field.entries() {
        match key.as_str() {
            "context" => {
                if let Some(text) = value.text() {
                    build.insert(key, known.paths.rebase(&value.at, &text).into());
                }
            }
            "dockerfile" | "target" => {
                if let Some(text) = value.text() {
                    build.insert(key, text.into());
                }
            }
            "args" => {
                let mut args = Map::new();
                for (arg, given) in to_map(&value).entries() {
                    match given.text() {
                        Some(text) => {
                            args.insert(arg, text.into());
                        }
                        None => match known.variables.get(&arg) {
                            Some(text) => {
                                args.insert(arg, text.into());
                            }
                            None => notes.add(&given.at, format!("build arg `{arg}` has no value: compose takes it from its shell at build time, berth does not; give it one")),
                        },
                    }
                }
                if !args.is_empty() {
                    build.insert("args".into(), args.into());
                }
            }
            other => notes.add(&value.at, format!("build `{other}` not carried over")),
        }
    }
    build
        .entry("context")
        .or_insert_with(|| known.paths.rebase(&field.at, ".").into());
    build.into()
}

fn env_files(field: &Field, known: &Known, notes: &mut Notes) -> Vec<String> {
    let items: Vec<Field> = match &field.shape {
        Shape::Scalar(_) => vec![field.clone()],
        _ => field.items().to_vec(),
    };
    items
        .iter()
        .filter_map(|item| {
            let path = item.text().or_else(|| item.get("path").and_then(Field::text))?;
            if item.get("required").and_then(Field::text).as_deref() == Some("false") {
                notes.add(&item.at, format!("env file `{path}` is optional in compose; berth requires it: create it, or remove it from `env_file`"));
            }
            Some(known.paths.rebase(&item.at, &path))
        })
        .collect()
}

fn depends_on(field: &Field, known: &Known, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    for (dependency, spec) in to_map(field).entries() {
        let Some((name, _)) = known.peers.get(&dependency) else {
            continue;
        };
        let condition = spec.get("condition").and_then(Field::text);
        let condition = match condition.as_deref() {
            Some("service_healthy") if !known.healthchecked.contains(&dependency) => {
                notes.add(&spec.at, format!("waits for `{dependency}` to be healthy by the healthcheck of its image, which berth cannot see: it waits for `{name}` to start; give `{name}` a readiness probe"));
                "started"
            }
            Some("service_healthy") => "healthy",
            Some("service_completed_successfully") => "completed",
            _ => "started",
        };
        for (key, what) in [("required", "false"), ("restart", "true")] {
            if spec.get(key).and_then(Field::text).as_deref() == Some(what) {
                notes.add(&spec.at, format!("depends_on `{key}: {what}` not carried over: berth always waits for a dependency and does not restart its dependents"));
            }
        }
        out.insert(name.clone(), condition.into());
    }
    out
}

/// `links:` as compose reads them now: the service waits for each to start,
/// and reaches it by its name on the one network.
fn links_as_dependencies(
    links: &Field,
    known: &Known,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    let depends_on = out.entry("depends_on").or_insert_with(|| json!({}));
    for link in links.items() {
        let Some(text) = link.text() else { continue };
        let (service, alias) = text.split_once(':').unwrap_or((&text, ""));
        let Some((name, _)) = known.peers.get(service) else {
            notes.add(
                &link.at,
                format!(
                    "link to `{service}`, which is not a service of these files, not carried over"
                ),
            );
            continue;
        };
        if !alias.is_empty() && alias != service {
            notes.add(
                &link.at,
                format!("link alias `{alias}` not carried over: `{name}` is reached by its name"),
            );
        }
        if let Value::Object(map) = depends_on {
            map.entry(name.clone()).or_insert_with(|| "started".into());
        }
    }
}

fn restart(field: &Field, notes: &mut Notes) -> Option<Value> {
    let text = field.text()?;
    let (policy, attempts) = text.split_once(':').unwrap_or((&text, ""));
    let policy = match policy {
        "no" | "none" => "never",
        "always" | "any" => "always",
        "unless-stopped" => {
            notes.add(&field.at, "`unless-stopped` read as `always`: a berth that stops its services does not restart them");
            "always"
        }
        "on-failure" => "on_failure",
        other => {
            notes.add(&field.at, format!("restart `{other}` not carried over"));
            return None;
        }
    };
    Some(match attempts.parse::<u32>() {
        Ok(max) => json!({ "policy": policy, "max_restarts": max }),
        Err(_) => policy.into(),
    })
}

fn deploy(field: &Field, out: &mut Map<String, Value>, notes: &mut Notes) {
    for (key, value) in field.entries() {
        match key.as_str() {
            "replicas" => {
                if let Some(replicas) = value.text().and_then(|r| r.parse::<u32>().ok()) {
                    out.insert("replicas".into(), replicas.into());
                }
            }
            "resources" => {
                let resources = deploy_resources(&value, notes);
                if !resources.is_empty() {
                    out.insert("resources".into(), resources.into());
                }
            }
            "restart_policy" => restart_policy(&value, out, notes),
            other => notes.add(&value.at, format!("deploy `{other}` not carried over")),
        }
    }
}

/// `deploy.restart_policy`: condition, max_attempts and delay.
fn restart_policy(field: &Field, out: &mut Map<String, Value>, notes: &mut Notes) {
    let Some(condition) = field.get("condition") else {
        return;
    };
    let Some(restart) = restart(condition, notes) else {
        return;
    };
    let mut spec = match restart {
        Value::String(policy) => json!({ "policy": policy }),
        other => other,
    };
    if let Some(max) = field
        .get("max_attempts")
        .and_then(Field::text)
        .and_then(|m| m.parse::<u32>().ok())
    {
        spec["max_restarts"] = max.into();
    }
    if let Some(delay) = field.get("delay").and_then(|d| duration(d, notes)) {
        spec["backoff"] = delay.into();
    }
    if let Some(window) = field.get("window") {
        notes.add(
            &window.at,
            "restart_policy `window` not carried over: berth counts restarts in a row",
        );
    }
    out.insert("restart".into(), spec);
}

/// Labels that are Kubernetes label values stay labels; the rest (traefik's
/// rules, say) are annotations, which compose files write as labels too.
fn labels(field: &Field, out: &mut Map<String, Value>) {
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (key, value) in to_map(field).entries() {
        let value = value.text().unwrap_or_default();
        if berth_core::load::is_label(&key, &value) {
            labels.insert(key, value.into());
        } else {
            annotations.insert(key, value.into());
        }
    }
    if !labels.is_empty() {
        out.insert("labels".into(), labels.into());
    }
    if !annotations.is_empty() {
        out.insert("annotations".into(), annotations.into());
    }
}

/// Service volumes in berth's short form: named volumes keep their names
/// (so a migrated database finds its data), folders are rebased.
fn volumes(field: &Field, known: &Known, notes: &mut Notes) -> Vec<String> {
    let mut mounts = Vec::new();
    for volume in field.items() {
        let (kind, source, target, read_only) = match volume.text() {
            Some(text) => {
                let parts: Vec<&str> = text.split(':').collect();
                match parts.as_slice() {
                    [target] => ("volume", None, (*target).to_owned(), false),
                    [source, target] => {
                        ("", Some((*source).to_owned()), (*target).to_owned(), false)
                    }
                    [source, target, mode] => (
                        "",
                        Some((*source).to_owned()),
                        (*target).to_owned(),
                        mode.split(',').any(|m| m == "ro"),
                    ),
                    _ => {
                        notes.add(
                            &volume.at,
                            format!("volume `{text}` not carried over: not a form berth reads"),
                        );
                        continue;
                    }
                }
            }
            None => {
                let get = |key: &str| volume.get(key).and_then(Field::text);
                let kind = get("type").unwrap_or_else(|| "volume".to_owned());
                let Some(target) = get("target") else {
                    continue;
                };
                let kind = match kind.as_str() {
                    "volume" => "volume",
                    "bind" => "bind",
                    other => {
                        notes.add(&volume.at, format!("a `{other}` mount at {target} not carried over: berth mounts volumes and folders"));
                        continue;
                    }
                };
                (
                    kind,
                    get("source"),
                    target,
                    get("read_only").as_deref() == Some("true"),
                )
            }
        };
        let source = match source {
            Some(source) if kind == "bind" || source.starts_with(['.', '/', '~']) => {
                let path = if source.starts_with(['.', '/', '~']) {
                    source
                } else {
                    format!("./{source}")
                };
                Some(known.paths.rebase(&volume.at, &path))
            }
            other => other,
        };
        let mode = if read_only { ":ro" } else { "" };
        let mount = match source {
            Some(source) => format!("{source}:{target}{mode}"),
            None => format!("{target}{mode}"),
        };
        match mount.parse::<berth_core::model::Mount>() {
            Ok(_) => mounts.push(mount),
            Err(why) => {
                let why = why.lines().next().unwrap_or_default();
                let why = why
                    .split_once("is not a volume: ")
                    .map_or(why, |(_, why)| why);
                notes.add(
                    &volume.at,
                    format!("volume `{mount}` not carried over: {why}"),
                );
            }
        }
    }
    mounts
}

/// The data kind an image is, from the last part of its repository name.
pub fn kind_of_image(image: &str) -> Kind {
    berth_core::model::DataStore::of_image(image).map_or(Kind::Service, |store| store.kind)
}
