//! Docker Compose: the data stores and the application services in two files
//! (`compose.data.yaml`, `compose.services.yaml`, as SrvThreds keeps its own),
//! used together: `docker compose -f compose.data.yaml -f compose.services.yaml
//! up`. The project is named after the ecosystem, and the paths in the files —
//! build contexts, env files, folders mounted — lead back to berth.yaml's folder
//! from wherever the files are written.

use berth_core::Ecosystem;
use berth_core::address::{self, Addresses};
use berth_core::model::{
    Bytes, Check, Command, Condition, Cpu, Kind, Mount, MountSource, Port, PortRef, Probe,
    RestartPolicy, SecretRef, Service,
};
use berth_core::plan;
use berth_core::yaml::to_yaml;
use indexmap::IndexMap;
use serde::Serialize;

use crate::duration::compact;
use crate::{File, header};

/// The two compose files of `ecosystem`, to be used from berth.yaml's folder.
pub fn compose(ecosystem: &Ecosystem) -> Vec<File> {
    compose_at(ecosystem, ".")
}

/// The two compose files of `ecosystem`, written in a folder from which
/// `project` (a relative path such as `../..`) is berth.yaml's folder.
pub fn compose_at(ecosystem: &Ecosystem, project: &str) -> Vec<File> {
    let network = format!("{}-net", ecosystem.name);
    let (data, services): (Vec<_>, Vec<_>) = ecosystem
        .services
        .iter()
        .filter(|(name, _)| !ecosystem.is_external(name))
        .partition(|(_, service)| service.kind.is_data());
    [
        ("compose.data.yaml", data),
        ("compose.services.yaml", services),
    ]
    .into_iter()
    .map(|(name, members)| {
        let mut file = ComposeFile {
            name: ecosystem.name.clone(),
            ..ComposeFile::default()
        };
        file.networks.insert(
            network.clone(),
            Network {
                name: network.clone(),
            },
        );
        for (service_name, service) in members {
            let at = Place {
                ecosystem,
                name: service_name,
                network: &network,
                project,
            };
            let rendered = render_service(&at, service, &mut file);
            file.services.insert(service_name.clone(), rendered);
        }
        let yaml = to_yaml(&serde_json::to_value(&file).expect("compose files serialize"));
        File {
            name: name.to_owned(),
            text: format!("{}{}{yaml}", header(ecosystem), usage(ecosystem, project)),
        }
    })
    .collect()
}

#[derive(Default, Serialize)]
struct ComposeFile {
    name: String,
    services: IndexMap<String, ComposeService>,
    networks: IndexMap<String, Network>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    volumes: IndexMap<String, Volume>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    secrets: IndexMap<String, FileSecret>,
}

#[derive(Serialize)]
struct Network {
    name: String,
}

#[derive(Serialize)]
struct Volume {}

#[derive(Serialize)]
struct FileSecret {
    file: String,
}

#[derive(Default, Serialize)]
struct ComposeService {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    profiles: Vec<String>,
    /// A variable without a value is passed through from compose's own environment.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    environment: IndexMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PortMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    depends_on: IndexMap<String, DependsOn>,
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    labels: IndexMap<String, String>,
    restart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<Deploy>,
}

/// The long form, which no YAML reader can take for a number.
#[derive(Serialize)]
struct PortMapping {
    target: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_ip: Option<String>,
}

#[derive(Serialize)]
struct Build {
    context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    args: IndexMap<String, String>,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

#[derive(Serialize)]
struct DependsOn {
    condition: &'static str,
}

#[derive(Serialize)]
struct Deploy {
    replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
}

#[derive(Serialize)]
struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<Amounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reservations: Option<Amounts>,
}

#[derive(Serialize)]
struct Amounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
}

/// On the compose network a service is reached by its name, on its own ports.
pub struct ComposeNetwork<'a>(pub &'a Ecosystem);

impl Addresses for ComposeNetwork<'_> {
    fn host(&self, service: &str) -> String {
        service.to_owned()
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.services.get(service)?.ports.get(port).copied()
    }
}

/// Where a service is rendered: its ecosystem, name and network, and the way
/// back to berth.yaml's folder.
struct Place<'a> {
    ecosystem: &'a Ecosystem,
    name: &'a str,
    network: &'a str,
    project: &'a str,
}

impl Place<'_> {
    /// A path of berth.yaml's folder as seen from the compose files' folder.
    fn path(&self, path: &str) -> String {
        if path.starts_with(['/', '~']) || self.project == "." {
            return path.to_owned();
        }
        let rest = path.trim_start_matches("./");
        match rest {
            "" | "." => self.project.to_owned(),
            _ => format!("{}/{rest}", self.project),
        }
    }
}

fn render_service(at: &Place, service: &Service, file: &mut ComposeFile) -> ComposeService {
    let ecosystem = at.ecosystem;
    let mut rendered = ComposeService {
        image: service.image.clone(),
        build: service.build.as_ref().map(|build| Build {
            context: at.path(&build.context),
            dockerfile: build.dockerfile.clone(),
            target: build.target.clone(),
            args: build.args.clone(),
        }),
        entrypoint: service.entrypoint.as_ref().map(escaped_argv),
        command: service.command.as_ref().map(escaped_argv),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        profiles: service.profiles.clone(),
        environment: service
            .env
            .iter()
            .map(|(key, value)| {
                let value = address::resolve(value, ecosystem, &ComposeNetwork(ecosystem));
                (key.clone(), Some(escape(&value)))
            })
            .collect(),
        env_file: service.env_file.iter().map(|path| at.path(path)).collect(),
        ports: service
            .published()
            .into_iter()
            .filter_map(|(port_name, publish)| {
                Some(PortMapping {
                    target: service.ports.get(port_name)?.0,
                    published: publish.port.map(|p| p.0),
                    host_ip: publish.address.map(|a| a.to_string()),
                })
            })
            .collect(),
        healthcheck: healthcheck(service),
        depends_on: service
            .depends_on
            .iter()
            .filter(|(dependency, _)| !ecosystem.is_external(dependency))
            .map(|(dependency, condition)| {
                (
                    dependency.clone(),
                    DependsOn {
                        condition: condition_of(condition),
                    },
                )
            })
            .collect(),
        networks: vec![at.network.to_owned()],
        labels: service
            .labels
            .iter()
            .chain(&service.annotations)
            .map(|(key, value)| (key.clone(), escape(value)))
            .collect(),
        restart: restart(service),
        deploy: deploy(service),
        ..ComposeService::default()
    };
    for (key, secret) in &service.secrets {
        secret_into(&mut rendered, file, at, key, secret);
    }
    for mount in &service.volumes {
        rendered.volumes.push(volume(at, mount, file));
    }
    if let Some(store) = service.kind.data_store()
        && !service.volumes.iter().any(|m| m.target == store.data_dir)
    {
        let volume = format!("{}-data", at.name);
        rendered
            .volumes
            .push(format!("{volume}:{}", store.data_dir));
        file.volumes.insert(volume, Volume {});
    }
    rendered
}

/// A mount in compose's short form; a named volume is declared in the file.
fn volume(at: &Place, mount: &Mount, file: &mut ComposeFile) -> String {
    let mode = if mount.read_only { ":ro" } else { "" };
    match &mount.source {
        Some(MountSource::Volume(name)) => {
            file.volumes.insert(name.clone(), Volume {});
            format!("{name}:{}{mode}", mount.target)
        }
        Some(MountSource::Path(path)) => format!("{}:{}{mode}", at.path(path), mount.target),
        None => format!("{}{mode}", mount.target),
    }
}

/// An argv with each `$` written as compose keeps it literal.
fn escaped_argv(command: &Command) -> Vec<String> {
    command.argv().iter().map(|word| escape(word)).collect()
}

/// Compose reads `$` as the start of a variable; a literal one is written `$$`.
fn escape(value: &str) -> String {
    value.replace('$', "$$")
}

/// Secrets stay references: an environment variable of the shell that runs
/// compose (`${VAR}`), or a compose secret whose file the service reads through
/// `KEY_FILE`, the convention of the official images.
fn secret_into(
    rendered: &mut ComposeService,
    file: &mut ComposeFile,
    at: &Place,
    key: &str,
    secret: &SecretRef,
) {
    match secret {
        // The same name is compose's own pass-through: `KEY` without a value.
        SecretRef::Env(variable) if variable == key => {
            rendered.environment.insert(key.to_owned(), None);
        }
        SecretRef::Env(variable) => {
            rendered
                .environment
                .insert(key.to_owned(), Some(format!("${{{variable}}}")));
        }
        SecretRef::Kubernetes(_) => {
            rendered
                .environment
                .insert(key.to_owned(), Some(format!("${{{key}}}")));
        }
        SecretRef::File(path) => {
            let name = format!("{}-{}", at.name, key.to_ascii_lowercase().replace('_', "-"));
            file.secrets.insert(
                name.clone(),
                FileSecret {
                    file: at.path(path),
                },
            );
            rendered
                .environment
                .insert(format!("{key}_FILE"), Some(format!("/run/secrets/{name}")));
            rendered.secrets.push(name);
        }
    }
}

fn healthcheck(service: &Service) -> Option<Healthcheck> {
    let (test, probe) = health_test(service)?;
    Some(Healthcheck {
        test: test.iter().map(|word| escape(word)).collect(),
        interval: compact(probe.period.0),
        timeout: compact(probe.timeout.0),
        retries: probe.failure_threshold,
        start_period: compact(probe.initial_delay.0),
    })
}

/// The container's health check, the Engine's `test` form, and the readiness
/// probe whose timing it takes: a data kind's own client, or the probe run
/// inside the container.
pub fn health_test(service: &Service) -> Option<(Vec<String>, &Probe)> {
    let probe = service.health.readiness.as_ref()?;
    // A data kind's own client, at the port the service declares.
    let port = service.main_port().map_or(0, |(_, port)| port.0);
    let test = match service.kind.data_store() {
        Some(store) => (store.container_check)(port),
        None => check_command(probe, service)?,
    };
    Some((test, probe))
}

/// A probe as a command run inside the container.
fn check_command(probe: &Probe, service: &Service) -> Option<Vec<String>> {
    let port = |port: &Option<PortRef>| match port {
        Some(PortRef::Number(number)) => Some(*number),
        Some(PortRef::Name(name)) => service.ports.get(name).map(|p| p.0),
        None => service.main_port().map(|(_, p)| p.0),
    };
    Some(match &probe.check {
        Check::Http { path, port: p } => {
            let url = format!("http://localhost:{}{path}", port(p)?);
            vec![
                "CMD-SHELL".into(),
                format!("wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url}"),
            ]
        }
        Check::Tcp { port: p } => vec!["CMD-SHELL".into(), format!("nc -z localhost {}", port(p)?)],
        Check::Exec { command: c } => {
            let mut test = vec!["CMD".to_owned()];
            test.extend(c.argv());
            test
        }
    })
}

fn condition_of(condition: &Condition) -> &'static str {
    match condition {
        Condition::Healthy => "service_healthy",
        Condition::Completed => "service_completed_successfully",
        // Compose has no condition on log lines; starting is the closest it waits for.
        Condition::Started | Condition::LogLine(_) => "service_started",
    }
}

fn restart(service: &Service) -> String {
    if service.kind == Kind::Job {
        return "no".to_owned();
    }
    match service.restart.policy {
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Never => "no",
    }
    .to_owned()
}

fn deploy(service: &Service) -> Option<Deploy> {
    let r = &service.resources;
    let amounts = |cpu: Option<Cpu>, memory: Option<Bytes>| {
        (cpu.is_some() || memory.is_some()).then(|| Amounts {
            cpus: cpu.map(cpus),
            memory: memory.map(memory_amount),
        })
    };
    let limits = amounts(r.cpu_limit, r.memory_limit);
    let reservations = amounts(r.cpu, r.memory);
    let resources = (limits.is_some() || reservations.is_some()).then_some(Resources {
        limits,
        reservations,
    });
    let replicas = if service.kind.is_data() {
        1
    } else {
        service.replicas()
    };
    Some(Deploy {
        replicas,
        resources,
    })
}

/// Cores as compose writes them: `0.25`, `2`.
fn cpus(cpu: Cpu) -> String {
    let whole = cpu.millicores / 1000;
    match cpu.millicores % 1000 {
        0 => whole.to_string(),
        fraction => format!("{whole}.{}", format!("{fraction:03}").trim_end_matches('0')),
    }
}

/// Memory in compose's binary units (`m` is MiB), or bytes when no unit divides it.
fn memory_amount(bytes: Bytes) -> String {
    let b = bytes.bytes;
    for (suffix, factor) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if b.is_multiple_of(factor) {
            return format!("{}{suffix}", b / factor);
        }
    }
    format!("{b}b")
}

/// How the two files are used, said in each: together (the services depend on
/// the data stores), all of it with a plain `up`, and each named deployment as
/// the services it names, which compose starts with what they depend on.
fn usage(ecosystem: &Ecosystem, project: &str) -> String {
    let up = "docker compose -f compose.data.yaml -f compose.services.yaml up -d";
    let mut text =
        format!("# Use both files together: the services depend on the data stores.\n#   {up}\n");
    let from_environment = ecosystem
        .services
        .values()
        .flat_map(|service| service.secrets.values())
        .any(|secret| matches!(secret, SecretRef::Env(_)));
    if from_environment && project != "." {
        // Compose reads `.env` from the folder of the first file, which is this one.
        text += &format!(
            "# Secrets come from compose's environment: export them, or add `--env-file {project}/.env`.\n"
        );
    }
    for name in ecosystem.deployments.keys() {
        // A deployment for other environments is refused by `select`.
        let Ok(selection) = plan::select(ecosystem, std::slice::from_ref(name)) else {
            continue;
        };
        let services: Vec<&str> = selection
            .services
            .iter()
            .map(String::as_str)
            .filter(|service| !ecosystem.is_external(service))
            .collect();
        text += &format!("#   {up} {}   # {name}\n", services.join(" "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_compose_units() {
        assert_eq!(cpus("250m".parse().unwrap()), "0.25");
        assert_eq!(cpus("1500m".parse().unwrap()), "1.5");
        assert_eq!(cpus("2".parse().unwrap()), "2");
        assert_eq!(memory_amount("512Mi".parse().unwrap()), "512m");
        assert_eq!(memory_amount("1Gi".parse().unwrap()), "1g");
        assert_eq!(memory_amount("500M".parse().unwrap()), "500000000b");
    }
}
