//! One compose service as a berth service, key by key.

use berth_core::model::Kind;
use serde_json::{Map, Value, json};

use crate::document::{Definitions, Field};
use crate::env::{Peers, environment, with_defaults};
use crate::health::readiness;
use crate::note::Notes;
use crate::resources::{byte_quantity, cpu_quantity, resources};

/// Keys read elsewhere (ports, profiles) or that need no word in berth.yaml.
const READ_ELSEWHERE: &[&str] = &["ports", "expose", "profiles"];

/// What the project knows of the service before its keys are read.
pub struct Known<'p> {
    pub kind: Kind,
    pub ports: &'p [(String, u16)],
    pub peers: &'p Peers,
}

pub fn service(definitions: &Definitions, known: &Known, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    if known.kind != Kind::Service {
        out.insert("kind".into(), known.kind.name().into());
    }
    let mut env = Vec::new();
    let mut limits = Map::new();
    for (key, all) in definitions {
        let field = *all.last().expect("a key is defined at least once");
        match key.as_str() {
            "image" => {
                if let Some(image) = field.text() {
                    out.insert("image".into(), image_text(&image, &field, notes).into());
                }
            }
            "command" => {
                if let Some(value) = text_or_list(&field) {
                    out.insert(key.clone(), value);
                }
            }
            "build" => {
                out.insert("build".into(), build(&field, notes));
            }
            "environment" => env = all.clone(),
            "env_file" => {
                out.insert("env_file".into(), env_files(&field).into());
            }
            "depends_on" => {
                out.insert(
                    "depends_on".into(),
                    depends_on(&field, known.peers, notes).into(),
                );
            }
            "healthcheck" => {
                let main = known.ports.first().map(|(_, port)| *port);
                if let Some(probe) = readiness(&field, main) {
                    out.insert("health".into(), json!({ "readiness": probe }));
                }
            }
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
                let berth = if key == "mem_limit" {
                    "memory_limit"
                } else {
                    "memory"
                };
                if let Some(bytes) = field.text().and_then(|m| byte_quantity(&m)) {
                    limits.insert(berth.into(), bytes.into());
                }
            }
            "labels" => {
                out.insert("labels".into(), labels(all).into());
            }
            "stop_grace_period" => {
                if let Some(period) = field.text() {
                    out.insert("stop_grace_period".into(), period.into());
                }
            }
            "volumes" => volumes(&field, known.kind, notes),
            key if READ_ELSEWHERE.contains(&key) || key.starts_with("x-") => {}
            other => notes.add(
                field.at,
                format!("`{other}` not carried over: berth.yaml has no such setting"),
            ),
        }
    }
    if !known.ports.is_empty() && !default_ports(known) {
        let ports: Map<String, Value> = known
            .ports
            .iter()
            .map(|(name, port)| (name.clone(), (*port).into()))
            .collect();
        out.insert("ports".into(), ports.into());
    }
    let environment = environment(&env, known.peers, notes);
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

/// Whether a data store listens just where berth's built-in knowledge says.
fn default_ports(known: &Known) -> bool {
    known.kind.data_store().is_some_and(|store| {
        known
            .ports
            .iter()
            .all(|(name, port)| store.ports.contains(&(name.as_str(), *port)))
    })
}

/// An image as compose reads it: a `${VAR:-default}` in it is its default.
fn image_text(image: &str, field: &Field, notes: &mut Notes) -> String {
    let (image, unresolved) = with_defaults(image);
    if let Some(variable) = unresolved {
        notes.add(field.at, format!("the image names `{variable}` from the shell, which berth does not read: write the tag"));
    }
    image
}

fn text_or_list(field: &Field) -> Option<Value> {
    match field.text() {
        Some(text) => Some(text.into()),
        None => {
            let items: Vec<String> = field.items().iter().filter_map(Field::text).collect();
            (!items.is_empty()).then(|| items.into())
        }
    }
}

fn build(field: &Field, notes: &mut Notes) -> Value {
    if let Some(context) = field.text() {
        return json!({ "context": context });
    }
    let mut build = Map::new();
    for (key, value) in field.entries() {
        match key.as_str() {
            "context" | "dockerfile" | "target" => {
                if let Some(text) = value.text() {
                    build.insert(key, text.into());
                }
            }
            "args" => {
                build.insert("args".into(), labels(&[value]).into());
            }
            other => notes.add(value.at, format!("build `{other}` not carried over")),
        }
    }
    build.into()
}

fn env_files(field: &Field) -> Vec<String> {
    match field.text() {
        Some(path) => vec![path],
        None => field
            .items()
            .iter()
            .filter_map(|item| {
                item.text()
                    .or_else(|| item.entries().get("path").and_then(Field::text))
            })
            .collect(),
    }
}

fn depends_on(field: &Field, peers: &Peers, notes: &mut Notes) -> Map<String, Value> {
    let berth_name = |compose: &str| peers.get(compose).map(|(name, _)| name.clone());
    let mut out = Map::new();
    if !field.is_map() {
        for item in field.items() {
            if let Some(name) = item.text().and_then(|n| berth_name(&n)) {
                out.insert(name, "started".into());
            }
        }
        return out;
    }
    for (dependency, spec) in field.entries() {
        let Some(name) = berth_name(&dependency) else {
            notes.add(
                spec.at,
                format!("depends on `{dependency}`, which is not a service of these files"),
            );
            continue;
        };
        let condition = spec.entries().get("condition").and_then(Field::text);
        let condition = match condition.as_deref() {
            Some("service_healthy") => "healthy",
            Some("service_completed_successfully") => "completed",
            _ => "started",
        };
        out.insert(name, condition.into());
    }
    out
}

fn restart(field: &Field, notes: &mut Notes) -> Option<Value> {
    let text = field.text()?;
    let (policy, attempts) = text.split_once(':').unwrap_or((&text, ""));
    let policy = match policy {
        "no" | "none" => "never",
        "always" | "any" => "always",
        "unless-stopped" => {
            notes.add(field.at, "`unless-stopped` read as `always`: a berth that stops its services does not restart them");
            "always"
        }
        "on-failure" => "on_failure",
        other => {
            notes.add(field.at, format!("restart `{other}` not carried over"));
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
                let entries = value.entries();
                let resources = resources(
                    entries.get("limits").copied(),
                    entries.get("reservations").copied(),
                );
                if !resources.is_empty() {
                    out.insert("resources".into(), resources.into());
                }
            }
            "restart_policy" => {
                if let Some(condition) = value.entries().get("condition")
                    && let Some(restart) = restart(condition, notes)
                {
                    out.insert("restart".into(), restart);
                }
            }
            other => notes.add(value.at, format!("deploy `{other}` not carried over")),
        }
    }
}

/// A mapping or a `key=value` list, merged over every definition.
fn labels(all: &[Field]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in all {
        if field.is_map() {
            for (key, value) in field.entries() {
                out.insert(key, value.text().unwrap_or_default().into());
            }
        }
        for item in field.items() {
            if let Some(text) = item.text() {
                let (key, value) = text.split_once('=').unwrap_or((&text, ""));
                out.insert(key.to_owned(), value.into());
            }
        }
    }
    out
}

fn volumes(field: &Field, kind: Kind, notes: &mut Notes) {
    for volume in field.items() {
        let description = volume.text().unwrap_or_else(|| "a volume".to_owned());
        let message = if kind.is_data() {
            format!(
                "volume `{description}` not carried over: berth keeps the {kind} store's data in a volume of its own"
            )
        } else {
            format!(
                "volume `{description}` not carried over: berth mounts no volumes into services"
            )
        };
        notes.add(volume.at, message);
    }
}

/// The data kind an image is, from the last part of its repository name.
pub fn kind_of_image(image: &str) -> Kind {
    let repository = image.split(['@', ':']).next().unwrap_or(image);
    match repository.rsplit('/').next().unwrap_or(repository) {
        "postgres" | "postgresql" => Kind::Postgres,
        "mongo" | "mongodb" => Kind::Mongodb,
        "redis" => Kind::Redis,
        "rabbitmq" => Kind::Rabbitmq,
        _ => Kind::Service,
    }
}
