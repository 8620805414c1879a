//! Reading berth.yaml: parse, merge each environment's overlay, fill in defaults,
//! validate — and report every problem found, each pointing into the file.

mod defaults;
mod names;
mod validate;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use crate::model::{
    DEFAULT_PHASES, Deployment, Ecosystem, Environment, Kind, Runtime, Service, Standards,
    TOP_LEVEL_KEYS,
};
use crate::problem::{Problem, ProblemSink, Problems, quoted_list, suggestion, unknown_name};
use crate::source::{SourceFile, Span};
use crate::yaml::{self, Node};

pub use names::{dns_label_problem, is_label, to_dns_label};

/// The name berth looks for, in the current directory and then its parents.
pub const FILE_NAME: &str = "berth.yaml";

/// A loaded berth.yaml: every environment resolved and valid.
#[derive(Debug)]
pub struct Project {
    pub path: PathBuf,
    pub file: SourceFile,
    environments: IndexMap<String, Ecosystem>,
}

impl Project {
    /// The directory berth.yaml is in, which relative paths in it start from.
    pub fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The ecosystem in each environment, in the file's order.
    pub fn ecosystems(&self) -> impl Iterator<Item = &Ecosystem> {
        self.environments.values()
    }

    /// The ecosystem in each environment that runs on `runtime`, in the file's order.
    pub fn ecosystems_on(&self, runtime: Runtime) -> impl Iterator<Item = &Ecosystem> {
        self.ecosystems()
            .filter(move |e| e.environment.runtime == runtime)
    }

    pub fn environment_names(&self) -> impl Iterator<Item = &str> {
        self.environments.keys().map(String::as_str)
    }

    /// The ecosystem in the named environment, or in the first one when none is named.
    pub fn ecosystem(&self, environment: Option<&str>) -> Result<&Ecosystem, Problems> {
        let Some(name) = environment else {
            return Ok(&self.environments[0]);
        };
        self.environments.get(name).ok_or_else(|| {
            let help = suggestion(name, self.environment_names(), || {
                format!(
                    "the environments are {}",
                    quoted_list(self.environment_names())
                )
            });
            Problems::one(
                Problem::new(format!(
                    "there is no environment `{name}` in {}",
                    self.file.name()
                ))
                .help(help),
            )
        })
    }
}

/// Finds berth.yaml in `start` or the nearest parent directory, as cargo finds Cargo.toml.
pub fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

pub fn load_path(path: &Path) -> Result<Project, Problems> {
    let text = read_file(path).map_err(Problems::one)?;
    let mut project = load_str(&path.display().to_string(), &text)?;
    project.path = path.to_path_buf();
    Ok(project)
}

/// The largest berth.yaml read: a thousand services take about 400 KB.
const LARGEST_FILE: u64 = 16 << 20;

/// The text of a berth.yaml: a regular file, of bounded size, in UTF-8 — a FIFO
/// would block and `/dev/zero` would never end.
fn read_file(path: &Path) -> Result<String, Problem> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        Problem::new(format!("cannot read {}: {e}", path.display()))
            .help("check the path, or run `berth init` to write a starter berth.yaml")
    };
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(
            Problem::new(format!("{} is not a regular file", path.display())).help(
                "give berth.yaml as a file; to read a generated one, write it to a file first",
            ),
        );
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(LARGEST_FILE + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > LARGEST_FILE {
        return Err(Problem::new(format!(
            "{} is larger than {} MiB",
            path.display(),
            LARGEST_FILE >> 20
        ))
        .help("berth.yaml describes an ecosystem in a few hundred kilobytes; check that this is the right file"));
    }
    String::from_utf8(bytes).map_err(|e| not_utf8(path, e))
}

fn not_utf8(path: &Path, error: std::string::FromUtf8Error) -> Problem {
    let valid = error.utf8_error().valid_up_to();
    let bytes = error.into_bytes();
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Problem::new(format!(
        "{}:{line}:{column}: the file is not UTF-8 text (byte 0x{:02x})",
        path.display(),
        bytes[valid]
    ))
    .help("save berth.yaml as UTF-8")
}

/// Loads berth.yaml from text; `name` is what errors call the file.
pub fn load_str(name: &str, text: &str) -> Result<Project, Problems> {
    let file = SourceFile::new(name, text);
    let root = yaml::parse(&file).map_err(Problems::one)?;
    let mut sink = ProblemSink::default();
    let (environments, count) = Loader {
        root: &root,
        sink: &mut sink,
    }
    .load();
    let in_file =
        |problems: Problems| Problems(problems.0.into_iter().map(|p| p.in_file(&file)).collect());
    sink.finish(count).map_err(in_file)?;
    Ok(Project {
        path: PathBuf::from(name),
        file,
        environments,
    })
}

/// The parts of berth.yaml every environment shares, read once.
struct Base<'a> {
    name: String,
    description: Option<String>,
    standards: Standards,
    phases: Vec<String>,
    deployments: IndexMap<String, Deployment>,
    services: IndexMap<&'a str, &'a Node>,
}

struct Loader<'a> {
    root: &'a Node,
    sink: &'a mut ProblemSink,
}

impl<'a> Loader<'a> {
    /// The valid environments, and how many there are in all.
    fn load(mut self) -> (IndexMap<String, Ecosystem>, usize) {
        let Some(map) = self.root.as_map() else {
            self.sink.push(
                Problem::new(
                    "berth.yaml must be a mapping of keys such as `name:` and `services:`",
                )
                .at(self.root.span, "not a mapping")
                .help("start from `berth init`"),
            );
            return (IndexMap::new(), 0);
        };
        for (key, entry) in map {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                self.sink
                    .push(unknown_key(key, entry.key_span, &TOP_LEVEL_KEYS));
            }
        }
        let base = self.base();
        let environments = self.environments(&base);
        let count = environments.len();
        let unchanged = read_unchanged(&base, environments.values().map(|(_, node)| node.as_ref()));
        let root = self.root;
        // Environments resolve independently: one thread each.
        let resolved: Vec<(String, Resolved)> = std::thread::scope(|scope| {
            let threads: Vec<_> = environments
                .into_iter()
                .map(|(name, (environment, node))| {
                    let (base, unchanged) = (&base, &unchanged);
                    scope.spawn(move || {
                        let resolved =
                            resolve(root, base, unchanged, &name, environment, node.as_ref());
                        (name, resolved)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .expect("resolving an environment does not panic")
                })
                .collect()
        });
        let mut ecosystems = IndexMap::new();
        for (name, resolved) in resolved {
            for problem in resolved.problems {
                self.sink.push_in(problem, Some(&name));
            }
            ecosystems.insert(name, resolved.ecosystem);
        }
        (ecosystems, count)
    }

    fn read<T: DeserializeOwned + Default>(&mut self, path: &[&str]) -> T {
        match self.root.at(path) {
            Some(node) => self
                .parse_node(node, self.root.key_span(path))
                .unwrap_or_default(),
            None => T::default(),
        }
    }

    fn parse_node<T: DeserializeOwned>(&mut self, node: &Node, key_span: Span) -> Option<T> {
        match yaml::from_node(node) {
            Ok(value) => Some(value),
            Err(e) => {
                let fallback = if matches!(*node.value, yaml::Value::Scalar { .. }) {
                    node.span
                } else {
                    key_span
                };
                self.sink.push(e.into_problem(fallback));
                None
            }
        }
    }

    fn base(&mut self) -> Base<'a> {
        let name = match self.root.get("name") {
            None => {
                self.sink.push(
                    Problem::new("berth.yaml has no `name`")
                        .at(self.root.span, "the file starts here")
                        .help("add `name: my-ecosystem` at the top"),
                );
                String::new()
            }
            Some(node) => {
                let name: String = self.parse_node(node, node.span).unwrap_or_default();
                if let Some(problem) = dns_label_problem("ecosystem name", &name, node.span) {
                    self.sink.push(problem);
                }
                name
            }
        };
        let phases: Option<Vec<String>> = self.read(&["phases"]);
        let phases =
            phases.unwrap_or_else(|| DEFAULT_PHASES.iter().map(|p| p.to_string()).collect());
        let mut deployments = IndexMap::new();
        for (key, entry) in self.entries(&["deployments"]) {
            if let Some(problem) = names::identifier_problem("deployment name", key, entry.key_span)
            {
                self.sink.push(problem);
            }
            if let Some(deployment) = self.parse_node(&entry.value, entry.key_span) {
                deployments.insert(key.clone(), deployment);
            }
        }
        let mut services = IndexMap::new();
        for (key, entry) in self.entries(&["services"]) {
            if let Some(problem) = dns_label_problem("service name", key, entry.key_span) {
                self.sink.push(problem);
            }
            services.insert(key.as_str(), &entry.value);
        }
        if services.is_empty() && self.sink.is_empty() {
            self.sink.push(
                Problem::new("berth.yaml declares no services")
                    .at(self.root.key_span(&["services"]), "no services here")
                    .help("add a `services:` mapping with at least one service"),
            );
        }
        Base {
            name,
            description: self.read(&["description"]),
            standards: self.read(&["standards"]),
            phases,
            deployments,
            services,
        }
    }

    /// The entries of the mapping at `path`; a non-mapping there is reported.
    fn entries(&mut self, path: &[&str]) -> Vec<(&'a String, &'a yaml::Entry)> {
        let root = self.root;
        match root.at(path) {
            None => Vec::new(),
            Some(node) if node.is_null() => Vec::new(),
            Some(node) => match node.as_map() {
                Some(map) => map.iter().collect(),
                None => {
                    self.sink.push(
                        Problem::new(format!(
                            "`{}` must be a mapping of names to settings",
                            path.join(".")
                        ))
                        .at(root.key_span(path), format!("found {}", node.describe()))
                        .help("write one `name:` per line, with its settings indented below"),
                    );
                    Vec::new()
                }
            },
        }
    }

    fn environments(&mut self, base: &Base) -> IndexMap<String, (Environment, Option<Node>)> {
        let mut environments = IndexMap::new();
        for (key, entry) in self.entries(&["environments"]) {
            if let Some(problem) = dns_label_problem("environment name", key, entry.key_span) {
                self.sink.push(problem);
                continue;
            }
            let Some(environment) = self.parse_node::<Environment>(&entry.value, entry.key_span)
            else {
                continue;
            };
            for (name, overlay) in entry
                .value
                .get("services")
                .and_then(Node::as_map)
                .into_iter()
                .flatten()
            {
                if !base.services.contains_key(name.as_str()) {
                    self.sink.push_in(
                        unknown_name(
                            "service",
                            name,
                            overlay.key_span,
                            base.services.keys().copied(),
                        ),
                        Some(key),
                    );
                }
            }
            environments.insert(key.clone(), (environment, Some(entry.value.clone())));
        }
        if environments.is_empty() {
            environments.insert("local".to_owned(), (Environment::default(), None));
        }
        environments
    }
}

/// Every problem of a service that does not deserialize, not only the first
/// serde met: each key is read on its own (every field has a default), so that
/// one run of `check` shows them all.
fn service_problems(merged: &Node, first: yaml::DeError, fallback: Span) -> Vec<Problem> {
    let mut problems: Vec<Problem> = Vec::new();
    for (key, entry) in merged.as_map().into_iter().flatten() {
        let alone = Node::new(
            yaml::Value::Map(IndexMap::from([(key.clone(), entry.clone())])),
            merged.span,
        );
        if let Err(e) = yaml::from_node::<Service>(&alone) {
            problems.push(e.into_problem(entry.key_span));
        }
    }
    if problems.is_empty() {
        // Only the keys together are wrong.
        problems.push(first.into_problem(fallback));
    }
    problems
}

/// A service read from its (merged) node, with its defaults filled in.
fn read_service(node: &Node, phases: &[String]) -> Result<Arc<Service>, yaml::DeError> {
    let mut service: Service = yaml::from_node(node)?;
    defaults::fill_in(&mut service, phases);
    Ok(Arc::new(service))
}

/// One environment's ecosystem, and the problems found in it.
struct Resolved {
    ecosystem: Ecosystem,
    problems: Vec<Problem>,
}

fn resolve(
    root: &Node,
    base: &Base,
    unchanged: &IndexMap<&str, ReadService>,
    name: &str,
    environment: Environment,
    node: Option<&Node>,
) -> Resolved {
    let mut problems = Vec::new();
    let mut services = IndexMap::new();
    let mut broken = HashSet::new();
    for (service, service_node) in &base.services {
        let layers = overlays(service, service_node, node);
        let read = match unchanged.get(service) {
            Some(read) if layers.is_empty() => {
                read.clone().map_err(|e| (e, (*service_node).clone()))
            }
            _ => {
                let mut merged = (*service_node).clone();
                for layer in layers {
                    yaml::merge(&mut merged, layer);
                }
                read_service(&merged, &base.phases).map_err(|e| (e, merged))
            }
        };
        let read = read.unwrap_or_else(|(first, merged)| {
            let fallback = root.key_span(&["services", service]);
            problems.extend(service_problems(&merged, first, fallback));
            broken.insert(service.to_string());
            Arc::new(Service::default())
        });
        services.insert(service.to_string(), read);
    }
    let ecosystem = Ecosystem {
        name: base.name.clone(),
        description: base.description.clone(),
        standards: base.standards.clone(),
        phases: base.phases.clone(),
        environment_name: name.to_owned(),
        environment,
        services,
        deployments: base.deployments.clone(),
    };
    let located = validate::Located {
        root,
        environment: node,
        broken: &broken,
    };
    problems.extend(validate::validate(&ecosystem, &located));
    Resolved {
        ecosystem,
        problems,
    }
}

type ReadService = Result<Arc<Service>, yaml::DeError>;

/// What an environment merges onto a service, in order: its `defaults` (for
/// services of kind `service`), then its overlay of that service.
fn overlays<'n>(
    service: &str,
    service_node: &Node,
    environment: Option<&'n Node>,
) -> Vec<&'n Node> {
    let Some(environment) = environment else {
        return Vec::new();
    };
    let defaults = environment
        .get("defaults")
        .filter(|n| !n.is_null() && kind_of(service_node) == Some("service"));
    let overlay = environment.get("services").and_then(|o| o.get(service));
    defaults.into_iter().chain(overlay).collect()
}

/// Each service that some environment leaves as the base wrote it, read once for
/// all such environments to share.
fn read_unchanged<'b, 'n>(
    base: &Base<'b>,
    environments: impl Iterator<Item = Option<&'n Node>> + Clone,
) -> IndexMap<&'b str, ReadService> {
    base.services
        .iter()
        .filter(|(service, node)| {
            environments
                .clone()
                .any(|environment| overlays(service, node, environment).is_empty())
        })
        .map(|(service, node)| (*service, read_service(node, &base.phases)))
        .collect()
}

fn kind_of(node: &Node) -> Option<&str> {
    match node.get("kind") {
        Some(kind) => kind.as_str(),
        None => Some(Kind::Service.name()),
    }
}

pub(crate) fn unknown_key(key: &str, span: Span, known: &[&str]) -> Problem {
    let help = suggestion(key, known.iter().copied(), || {
        format!(
            "the keys allowed here are {}",
            quoted_list(known.iter().copied())
        )
    });
    Problem::new(format!("unknown key `{key}`"))
        .at(span, "not a berth.yaml key")
        .help(help)
}
