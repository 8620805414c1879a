//! A compose project — one or more files, later ones overriding earlier — as
//! one berth.yaml.

use std::collections::HashSet;

use berth_core::model::Kind;
use berth_core::source::SourceFile;
use berth_core::yaml::Node;
use berth_core::{Problem, Problems};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::document::{Definitions, Field, last, last_text, root};
use crate::env::Peers;
use berth_core::load::to_dns_label;

use crate::names::Renames;
use crate::note::{Note, Notes};
use crate::ports::{ContainerPort, container_ports};
use crate::service::{Known, kind_of_image, service};

/// The berth.yaml, and what it could not say.
pub struct Imported {
    pub text: String,
    pub notes: Vec<Note>,
}

/// Top-level keys that need no word: compose itself ignores `version`.
const SILENT: &[&str] = &["version", "name", "services"];

/// Imports the compose project of `files`; `name` is the ecosystem's name when
/// the files give none.
pub fn compose(files: &[SourceFile], name: &str) -> Result<Imported, Problems> {
    let nodes: Vec<Node> = files
        .iter()
        .map(berth_core::yaml::parse)
        .collect::<Result<_, Problem>>()
        .map_err(Problems::one)?;
    let mut notes = Notes::default();
    let mut name = to_dns_label(name).unwrap_or_else(|| "imported".to_owned());
    let mut services: IndexMap<String, Definitions> = IndexMap::new();
    for (file, node) in files.iter().zip(&nodes) {
        for (key, field) in root(file, node).entries() {
            match key.as_str() {
                "services" => gather(&field, &mut services),
                "name" => name = field.text().and_then(|n| to_dns_label(&n)).unwrap_or(name),
                key if SILENT.contains(&key) || key.starts_with("x-") => {}
                other => notes.add(field.at, format!("top-level `{other}` not carried over: berth gives each data store its own volume and puts every service on one network")),
            }
        }
    }
    if services.is_empty() {
        return Err(Problems::one(
            Problem::new("the compose files define no services")
                .help("give the files a `services:` mapping, as `docker compose config` shows it"),
        ));
    }
    let renames = Renames::new(services.keys());
    for (compose, berth) in renames.iter().filter(|(a, b)| a != b) {
        let at = services[compose].values().next().expect("a key")[0].at;
        notes.add(at, format!("service `{compose}` is named `{berth}`: berth names are DNS labels, as Kubernetes requires"));
    }
    let kinds = kinds(&services);
    let ports = ports(&services, &kinds, &mut notes);
    let peers: Peers = services
        .keys()
        .map(|compose| {
            let berth = renames
                .get(compose)
                .expect("every service renamed")
                .to_owned();
            let targets = ports[compose]
                .iter()
                .map(|(name, target, _)| (name.clone(), *target))
                .collect();
            (compose.clone(), (berth, targets))
        })
        .collect();
    let mut out_services = Map::new();
    for (compose, definitions) in &services {
        let ports: Vec<(String, u16)> = ports[compose]
            .iter()
            .map(|(name, _, port)| (name.clone(), *port))
            .collect();
        let known = Known {
            kind: kinds[compose],
            ports: &ports,
            peers: &peers,
        };
        let berth = peers[compose].0.clone();
        out_services.insert(berth, service(definitions, &known, &mut notes).into());
    }
    let mut document = json!({
        "name": name,
        "services": out_services,
        "environments": environments(&out_services),
    });
    let deployments = deployments(&services, &renames);
    if !deployments.is_empty() {
        document["deployments"] = deployments.into();
    }
    let sources: Vec<&str> = files.iter().map(SourceFile::name).collect();
    let text = format!(
        "# Imported by `berth import compose` from {}.\n# `local` runs every service as berth's stand-in workload, since their code lives in\n# their images; `docker` renders Docker Compose files. Read the notes the import printed.\n{}",
        sources.join(", "),
        berth_core::yaml::to_yaml(&document)
    );
    Ok(Imported {
        text,
        notes: notes.0,
    })
}

fn gather<'a>(services: &Field<'a>, into: &mut IndexMap<String, Definitions<'a>>) {
    for (name, definition) in services.entries() {
        let definitions = into.entry(name).or_default();
        for (key, field) in definition.entries() {
            definitions.entry(key).or_default().push(field);
        }
    }
}

/// A data kind by image; a job when another service waits for it to complete.
fn kinds(services: &IndexMap<String, Definitions>) -> IndexMap<String, Kind> {
    let awaited: HashSet<String> = services
        .values()
        .filter_map(|definitions| last(definitions, "depends_on"))
        .flat_map(|depends_on| depends_on.entries())
        .filter(|(_, spec)| {
            spec.entries()
                .get("condition")
                .and_then(Field::text)
                .as_deref()
                == Some("service_completed_successfully")
        })
        .map(|(name, _)| name)
        .collect();
    services
        .iter()
        .map(|(name, definitions)| {
            let kind = match last_text(definitions, "image").map(|image| kind_of_image(&image)) {
                Some(kind) if kind.is_data() => kind,
                _ if awaited.contains(name) => Kind::Job,
                _ => Kind::Service,
            };
            (name.clone(), kind)
        })
        .collect()
}

/// Each service's ports: berth's name, the container's port, and berth's port —
/// another when an earlier service already holds it, since berth's local and
/// compose runtimes share the host's ports.
fn ports(
    services: &IndexMap<String, Definitions>,
    kinds: &IndexMap<String, Kind>,
    notes: &mut Notes,
) -> IndexMap<String, Vec<(String, u16, u16)>> {
    let mut taken: HashSet<u16> = HashSet::new();
    let mut all = IndexMap::new();
    for (name, definitions) in services {
        let declared = declared_ports(definitions, kinds[name], notes);
        let mut ports = Vec::new();
        for (
            index,
            ContainerPort {
                target,
                published,
                at,
            },
        ) in declared.into_iter().enumerate()
        {
            let port_name = port_name(kinds[name], index, target);
            let mut port = target;
            while taken.contains(&port) {
                // Past the last port, start again above the privileged ones.
                port = port.checked_add(1).unwrap_or(1024);
            }
            if port != target {
                notes.add(at, format!("`{name}` listens on {target}, as a service before it does; berth gives it {port}, since its local and compose runtimes share the host's ports: have the image listen there"));
            } else if published.is_some_and(|p| p != target) {
                notes.add(at, format!("published on host port {}, not carried over: berth publishes a port where the service listens", published.unwrap_or_default()));
            }
            taken.insert(port);
            ports.push((port_name, target, port));
        }
        all.insert(name.clone(), ports);
    }
    all
}

/// The ports of `ports:` and `expose:`; a data store that declares none listens
/// where berth knows it does.
fn declared_ports<'a>(
    definitions: &Definitions<'a>,
    kind: Kind,
    notes: &mut Notes,
) -> Vec<ContainerPort<'a>> {
    let fields: Vec<Field> = ["ports", "expose"]
        .iter()
        .flat_map(|key| definitions.get(*key).into_iter().flatten().copied())
        .collect();
    let declared = container_ports(&fields, notes);
    match kind.data_store() {
        Some(store) if declared.is_empty() => {
            let at = definitions.values().next().expect("a key")[0].at;
            store
                .ports
                .iter()
                .map(|(_, target)| ContainerPort {
                    target: *target,
                    published: None,
                    at,
                })
                .collect()
        }
        _ => declared,
    }
}

/// A data store's ports keep the names berth knows them by; another service's
/// first port is `main`, the others `port-NUMBER`.
fn port_name(kind: Kind, index: usize, target: u16) -> String {
    let known = kind
        .data_store()
        .and_then(|store| store.ports.iter().find(|(_, port)| *port == target));
    match (known, index) {
        (Some((name, _)), _) => (*name).to_owned(),
        (None, 0) if !kind.is_data() => "main".to_owned(),
        _ => format!("port-{target}"),
    }
}

/// `local`: each service played by the stand-in workload (a job by `true`);
/// `docker`: the services as they are, for Docker Compose.
fn environments(services: &Map<String, Value>) -> Value {
    let stand_ins: Map<String, Value> = services
        .iter()
        .map(|(name, spec)| {
            let mut overlay = if spec["kind"] == "job" {
                json!({ "local": { "run": ["true"] } })
            } else {
                json!({ "local": { "run": ["berth", "workload"] } })
            };
            let data = spec["kind"] != "job" && spec.get("kind").is_some();
            if spec.get("ports").is_some() || data {
                // The stand-in answers /ready on the service's first port.
                overlay["health"] = json!({ "readiness": "/ready" });
            }
            if spec.get("env_file").is_some() {
                // The stand-in needs none, and the files may not be here.
                overlay["env_file"] = json!([]);
            }
            (name.clone(), overlay)
        })
        .collect();
    json!({
        "local": {
            "description": "On this machine: berth's stand-in workload plays every service",
            "runtime": "local",
            "services": stand_ins,
        },
        "docker": {
            "description": "Docker Compose, as the imported files ran",
            "runtime": "compose",
        },
    })
}

/// Each compose profile as a named deployment of its services.
fn deployments(services: &IndexMap<String, Definitions>, renames: &Renames) -> Map<String, Value> {
    let mut profiles: IndexMap<String, Vec<String>> = IndexMap::new();
    for (name, definitions) in services {
        let Some(field) = last(definitions, "profiles") else {
            continue;
        };
        for profile in field.items().iter().filter_map(Field::text) {
            let berth = renames.get(name).expect("every service renamed").to_owned();
            profiles.entry(profile).or_default().push(berth);
        }
    }
    profiles
        .into_iter()
        .map(|(profile, services)| {
            let description = format!("compose profile `{profile}`");
            (
                to_dns_label(&profile).unwrap_or_else(|| "profile".to_owned()),
                json!({ "description": description, "services": services }),
            )
        })
        .collect()
}
