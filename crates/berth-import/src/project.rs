//! A compose project — its files, each `include:` and `extends`, later files
//! merged onto earlier ones, variables filled in from `.env` — as one berth.yaml.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use berth_core::load::to_dns_label;
use berth_core::model::Kind;
use berth_core::source::SourceFile;
use berth_core::{Problem, Problems};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::document::{self, Field, Shape};
use crate::env::Peers;
use crate::interpolate::Variables;
use crate::merge::{merge, to_map};
use crate::names::Renames;
use crate::note::{At, Note, Notes};
use crate::paths::Paths;
use crate::ports::{ServicePorts, service_ports};
use crate::service::{Known, kind_of_image, service};

/// The berth.yaml, and what it could not say.
pub struct Imported {
    pub text: String,
    pub notes: Vec<Note>,
}

/// A compose project as `docker compose -f FILE...` reads it.
pub struct Source<'a> {
    pub files: Vec<SourceFile>,
    /// The project's `.env`, whose variables fill in the files'.
    pub dotenv: Option<SourceFile>,
    /// The compose project's folder as seen from berth.yaml's: `.` when they
    /// are one, else a relative path such as `../shop`.
    pub folder: String,
    /// Reads a file that `include:` or `extends:` names, by its path.
    pub read: &'a dyn Fn(&str) -> Result<SourceFile, String>,
}

/// Top-level keys that need no word: compose itself ignores `version`.
const SILENT: &[&str] = &["version", "name", "services", "include"];

/// Imports the compose project `source`, named as compose names it: `given`
/// (`--name`, as compose's `-p`), else `.env`'s COMPOSE_PROJECT_NAME, else
/// the files' `name:`, else `folder`, the compose project folder's name.
pub fn compose(source: &Source, given: Option<&str>, folder: &str) -> Result<Imported, Problems> {
    let variables = source
        .dotenv
        .as_ref()
        .map(|file| Variables::from_dotenv(file.text()))
        .unwrap_or_default();
    let mut paths = Paths::default();
    let mut roots = Vec::new();
    for file in &source.files {
        paths.insert(file, &source.folder);
        load(source, file, &variables, &mut paths, &mut roots, 0)?;
    }
    let mut notes = Notes::default();
    let mut named_in_files = None;
    let mut services: IndexMap<String, Field> = IndexMap::new();
    for root in &roots {
        for (key, field) in root.entries() {
            match key.as_str() {
                "services" => {
                    for (service, definition) in extended(root, source, &variables, &mut paths)? {
                        let merged = match services.get(&service) {
                            Some(before) => merge(before, &definition, ""),
                            None => definition,
                        };
                        services.insert(service, merged);
                    }
                }
                "name" => named_in_files = field.text().map(|n| (n, field.at.clone())),
                "volumes" => named_elsewhere(&field, &mut notes),
                key if SILENT.contains(&key) || key.starts_with("x-") => {}
                other => notes.add(&field.at, format!("top-level `{other}` not carried over: berth puts every service of an environment on one network")),
            }
        }
    }
    services_are_mappings(&services)?;
    let compose_name = given
        .map(str::to_owned)
        .or_else(|| variables.get("COMPOSE_PROJECT_NAME").map(str::to_owned))
        .or_else(|| named_in_files.as_ref().map(|(n, _)| n.clone()))
        .unwrap_or_else(|| folder.to_owned());
    let name = to_dns_label(&compose_name).unwrap_or_else(|| "imported".to_owned());
    let normalized = normalized_project_name(&compose_name);
    if given.is_none() && name != normalized {
        let at = named_in_files.map_or_else(|| roots[0].at.clone(), |(_, at)| at);
        notes.add(&at, format!("the project is named `{name}`, a DNS label; compose named it `{normalized}`, so its containers and volumes (`{normalized}_…`) are not the ones berth's files make: copy the volumes' data over, or import with `--name`"));
    }
    if services.is_empty() {
        return Err(Problems::one(
            Problem::new("the compose files define no services")
                .help("give the files a `services:` mapping, as `docker compose config` shows it"),
        ));
    }
    dependencies_exist(&services)?;
    let renames = Renames::new(services.keys());
    for (compose, berth) in renames.iter().filter(|(a, b)| a != b) {
        notes.add(&services[compose].at, format!("service `{compose}` is named `{berth}`: berth names are DNS labels, as Kubernetes requires"));
    }
    let kinds = kinds(&services);
    let mut ports: IndexMap<String, ServicePorts> = services
        .iter()
        .map(|(name, field)| (name.clone(), service_ports(field, kinds[name], &mut notes)))
        .collect();
    published_once(&mut ports, &mut notes);
    let peers: Peers = services
        .keys()
        .map(|compose| {
            let berth = renames
                .get(compose)
                .expect("every service renamed")
                .to_owned();
            let targets = ports[compose]
                .ports
                .iter()
                .map(|port| (port.name.clone(), port.target))
                .collect();
            (compose.clone(), (berth, targets))
        })
        .collect();
    let healthchecked: HashSet<String> = services
        .iter()
        .filter(|(_, field)| field.get("healthcheck").is_some())
        .map(|(name, _)| name.clone())
        .collect();
    let mut out_services = Map::new();
    for (compose, definition) in &services {
        let berth = peers[compose].0.clone();
        let known = Known {
            name: &berth,
            kind: kinds[compose],
            ports: &ports[compose],
            peers: &peers,
            healthchecked: &healthchecked,
            paths: &paths,
            variables: &variables,
        };
        let translated = service(definition, &known, &mut notes);
        out_services.insert(berth.clone(), translated.into());
    }
    let local = crate::stand_in::environment(&out_services, &ports, &renames, &mut notes);
    let mut document = json!({
        "name": name,
        "services": out_services,
        "environments": {
            "local": local,
            "docker": {
                "description": "Docker Compose, as the imported files ran",
                "runtime": "compose",
            },
        },
    });
    let deployments = deployments(&services, &renames);
    if !deployments.is_empty() {
        document["deployments"] = deployments.into();
    }
    let sources: Vec<&str> = source.files.iter().map(SourceFile::name).collect();
    let text = format!(
        "# Imported by `berth import compose` from {}.\n# `local` runs every service as berth's stand-in workload, since their code lives in\n# their images; `docker` runs them as the compose files did. Read the notes the import printed.\n{}",
        sources.join(", "),
        berth_core::yaml::to_yaml(&document)
    );
    Ok(Imported {
        text,
        notes: notes.0,
    })
}

/// Each host port published by one service only: compose accepts a file
/// that publishes one twice, but cannot start both; berth publishes the later
/// ones on a free port, and says so.
fn published_once(ports: &mut IndexMap<String, ServicePorts>, notes: &mut Notes) {
    let mut taken: IndexMap<String, String> = IndexMap::new();
    for (service, service_ports) in ports.iter_mut() {
        for (name, at) in service_ports.published.iter_mut() {
            let (address, port) = at.rsplit_once(':').unwrap_or(("", at.as_str()));
            if port == "0" {
                continue;
            }
            let key = format!("{address}:{port}");
            match taken.get(&key) {
                Some(first) => {
                    let place = service_ports
                        .ports
                        .iter()
                        .find(|p| p.name == *name)
                        .map(|p| p.at.clone());
                    if let Some(place) = place {
                        notes.add(&place, format!("`{service}` is published on host port {port}, as `{first}` is, and the two cannot run at once: berth publishes it on a free port"));
                    }
                    *at = if address.is_empty() {
                        "0".to_owned()
                    } else {
                        format!("{address}:0")
                    };
                }
                None => {
                    taken.insert(key, service.clone());
                }
            }
        }
    }
}

/// Top-level volumes that compose names otherwise than `PROJECT_NAME`:
/// external ones and those given a `name:`. berth's files name each after the
/// project, so the data in them is not found there.
fn named_elsewhere(volumes: &Field, notes: &mut Notes) {
    for (volume, spec) in volumes.entries() {
        let external = spec.get("external").and_then(Field::text).as_deref() == Some("true");
        let named = spec.get("name").and_then(Field::text);
        if external || named.is_some() {
            let name = named.unwrap_or_else(|| volume.clone());
            notes.add(&spec.at, format!("volume `{volume}` is the Engine's `{name}`, not the project's own: berth names it after the project, so what `{name}` holds is not there; copy it over, or mount it another way"));
        }
    }
}

/// How deep `include:` may nest before it is taken for a loop.
const MAX_INCLUDES: usize = 16;

/// `file` and, before it, each file its `include:` names, in the order compose
/// reads them.
fn load(
    source: &Source,
    file: &SourceFile,
    variables: &Variables,
    paths: &mut Paths,
    roots: &mut Vec<Field>,
    depth: usize,
) -> Result<(), Problems> {
    let root = document::read(file, variables)?;
    for include in root.get("include").map(Field::items).unwrap_or_default() {
        let path = include
            .text()
            .or_else(|| include.get("path").and_then(Field::text))
            .unwrap_or_default();
        if depth == MAX_INCLUDES {
            return Err(problem(
                &include.at,
                "`include:` nests too deep; does it include itself?",
                "include each file once",
            ));
        }
        let named = paths.beside(file, &path);
        let included = (source.read)(&named).map_err(|e| {
            problem(
                &include.at,
                &format!("cannot read the included file {named}: {e}"),
                "include a compose file that exists, relative to the file that includes it",
            )
        })?;
        let folder = paths.folder_beside(file, &path);
        paths.insert(&included, &folder);
        load(source, &included, variables, paths, roots, depth + 1)?;
    }
    roots.push(root);
    Ok(())
}

/// The services of one file, each `extends` resolved: the service it names,
/// from this file or another, with this one merged onto it.
fn extended(
    root: &Field,
    source: &Source,
    variables: &Variables,
    paths: &mut Paths,
) -> Result<IndexMap<String, Field>, Problems> {
    let services = Rc::new(root.get("services").map(Field::entries).unwrap_or_default());
    let mut extends = Extends {
        source,
        variables,
        paths,
        files: HashMap::new(),
    };
    let mut out = IndexMap::new();
    for (name, definition) in services.iter() {
        let resolved = extends.resolve(definition, &services, &mut Vec::new())?;
        out.insert(name.clone(), resolved);
    }
    Ok(out)
}

/// What resolving `extends` needs, and the services of each other file it
/// named, read once however many services extend one of them.
struct Extends<'s, 'p> {
    source: &'s Source<'s>,
    variables: &'s Variables,
    paths: &'p mut Paths,
    files: HashMap<String, Rc<IndexMap<String, Field>>>,
}

impl Extends<'_, '_> {
    fn resolve(
        &mut self,
        definition: &Field,
        services: &Rc<IndexMap<String, Field>>,
        seen: &mut Vec<String>,
    ) -> Result<Field, Problems> {
        let Some(extends) = definition.get("extends") else {
            return Ok(definition.clone());
        };
        let base_name = extends
            .text()
            .or_else(|| extends.get("service").and_then(Field::text))
            .unwrap_or_default();
        let others = match extends.get("file").and_then(Field::text) {
            Some(path) => self.services_of(definition, extends, &path)?,
            None => services.clone(),
        };
        let Some(base) = others.get(&base_name).cloned() else {
            return Err(problem(
                &extends.at,
                &format!("extends `{base_name}`, which is not a service there"),
                "name a service of that file",
            ));
        };
        let place = extends.at.location();
        if seen.contains(&place) {
            return Err(problem(
                &extends.at,
                "`extends` leads back to itself",
                "break the loop of services extending each other",
            ));
        }
        seen.push(place);
        let base = self.resolve(&base, &others, seen)?;
        let mut own = definition.clone();
        if let Shape::Map(entries) = &mut own.shape {
            entries.shift_remove("extends");
        }
        Ok(merge(&base, &own, ""))
    }

    /// The services of the file `extends` names as `path`.
    fn services_of(
        &mut self,
        definition: &Field,
        extends: &Field,
        path: &str,
    ) -> Result<Rc<IndexMap<String, Field>>, Problems> {
        let named = self.paths.beside(&definition.at.file, path);
        if let Some(services) = self.files.get(&named) {
            return Ok(services.clone());
        }
        let file = (self.source.read)(&named).map_err(|e| {
            problem(
                &extends.at,
                &format!("cannot read {named}, which `extends` names: {e}"),
                "name a compose file that exists, relative to this one",
            )
        })?;
        let folder = self.paths.folder_beside(&definition.at.file, path);
        self.paths.insert(&file, &folder);
        let root = document::read(&file, self.variables)?;
        let services = Rc::new(root.get("services").map(Field::entries).unwrap_or_default());
        self.files.insert(named, services.clone());
        Ok(services)
    }
}

fn problem(at: &At, message: &str, help: &str) -> Problems {
    Problems::one(
        Problem::new(message)
            .at(at.span, "here")
            .help(help)
            .in_file(&at.file),
    )
}

/// A project name as compose makes it: lower case, letters, digits, `_` and `-`.
fn normalized_project_name(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// Each service is a mapping of its settings, as compose requires.
fn services_are_mappings(services: &IndexMap<String, Field>) -> Result<(), Problems> {
    let problems: Vec<Problem> = services
        .iter()
        .filter(|(_, definition)| !definition.is_map())
        .map(|(name, definition)| {
            Problem::new(format!("service `{name}` is not a mapping of settings"))
                .at(definition.at.span, "here")
                .help(
                    "give it its settings, such as `image: nginx:1.27`, as docker compose requires",
                )
                .in_file(&definition.at.file)
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// Each service a `depends_on` names exists, as compose requires.
fn dependencies_exist(services: &IndexMap<String, Field>) -> Result<(), Problems> {
    let mut problems = Vec::new();
    for (name, definition) in services {
        let Some(depends_on) = definition.get("depends_on") else {
            continue;
        };
        for (dependency, at) in to_map(depends_on).entries() {
            if !services.contains_key(&dependency) {
                let known = services.keys().map(String::as_str);
                let help = berth_core::problem::suggestion(&dependency, known, || {
                    "name a service of these files, as docker compose requires".to_owned()
                });
                problems.push(
                    Problem::new(format!(
                        "`{name}` depends on `{dependency}`, which is not a service of these files"
                    ))
                    .at(at.at.span, "no such service")
                    .help(help)
                    .in_file(&at.at.file),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// A data kind by image; a job when another service waits for it to complete.
fn kinds(services: &IndexMap<String, Field>) -> IndexMap<String, Kind> {
    let awaited: HashSet<String> = services
        .values()
        .filter_map(|definition| definition.get("depends_on"))
        .flat_map(|depends_on| to_map(depends_on).entries())
        .filter(|(_, spec)| {
            spec.get("condition").and_then(Field::text).as_deref()
                == Some("service_completed_successfully")
        })
        .map(|(name, _)| name)
        .collect();
    services
        .iter()
        .map(|(name, definition)| {
            let image = definition.get("image").and_then(Field::text);
            let kind = match image.map(|image| kind_of_image(&image)) {
                Some(kind) if kind.is_data() && definition.get("build").is_none() => kind,
                _ if awaited.contains(name) => Kind::Job,
                _ => Kind::Service,
            };
            (name.clone(), kind)
        })
        .collect()
}

/// Each compose profile as a named deployment of its services, so that
/// `berth up PROFILE` starts them as `docker compose --profile PROFILE up` does.
fn deployments(services: &IndexMap<String, Field>, renames: &Renames) -> Map<String, Value> {
    let mut profiles: IndexMap<String, Vec<String>> = IndexMap::new();
    for (name, definition) in services {
        for profile in definition
            .get("profiles")
            .map(Field::items)
            .unwrap_or_default()
            .iter()
            .filter_map(Field::text)
        {
            let berth = renames.get(name).expect("every service renamed").to_owned();
            profiles.entry(profile).or_default().push(berth);
        }
    }
    let all: Vec<String> = services
        .keys()
        .filter(|name| services[*name].get("profiles").is_none())
        .map(|name| renames.get(name).expect("every service renamed").to_owned())
        .collect();
    profiles
        .into_iter()
        .map(|(profile, mut members)| {
            let description =
                format!("compose profile `{profile}`: its services and those without a profile");
            members.extend(all.iter().cloned());
            (
                to_dns_label(&profile).unwrap_or_else(|| "profile".to_owned()),
                json!({ "description": description, "services": members }),
            )
        })
        .collect()
}
