//! Kubernetes: typed objects (k8s-openapi), never string templates. Each service
//! a ConfigMap for its plain settings and a Deployment and Service; a data store a
//! StatefulSet behind a headless Service; a job a Job; a store kept outside the
//! cluster a Service of type ExternalName, so that applications still reach it by
//! name. One Namespace per namespace in use.

use berth_core::yaml::to_yaml;
use std::collections::BTreeMap;
use std::sync::Arc;

use berth_core::Ecosystem;
use berth_core::address::{self, Addresses};
use berth_core::model::{
    Amount, AntiAffinity, Check, Command, Condition, Kind, Port, PortRef, Probe, SecretRef,
    Service, Strategy,
};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar,
    EnvVarSource, ExecAction, HTTPGetAction, Namespace, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec,
    Probe as K8sProbe, ResourceRequirements, SecretKeySelector, SecurityContext,
    Service as K8sService, ServicePort, ServiceSpec, TCPSocketAction, TopologySpreadConstraint,
    VolumeMount, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::parallel::{drop_in_background, parallel_map};
use crate::{File, header};

mod access;
mod availability;
mod backup;
mod external;
mod gateway_api;
mod network;
mod routes;

pub use backup::{Scheduled, scheduled as scheduled_backup, uploaded as uploaded_backups};

/// Every object of `ecosystem`, in the order `kubectl apply` wants them:
/// namespaces first.
pub fn objects(ecosystem: &Ecosystem) -> Vec<Value> {
    let mut namespaces: Vec<String> = vec![ecosystem.namespace().to_owned()];
    for service in ecosystem.services.values() {
        let namespace = namespace_of(ecosystem, service);
        if !namespaces.contains(&namespace) {
            namespaces.push(namespace);
        }
    }
    let services: Vec<(&String, &Arc<Service>)> = ecosystem.services.iter().collect();
    let dependents = network::dependents(ecosystem);
    let objects: Vec<Value> = parallel_map(&services, |(name, service)| {
        let dependents = dependents.get(name.as_str()).map_or(&[][..], Vec::as_slice);
        service_objects(ecosystem, name, service, dependents)
    })
    .into_iter()
    .flatten()
    .collect();
    let mut all: Vec<Value> = Vec::new();
    for namespace in &namespaces {
        all.push(json(&namespace_object(ecosystem, namespace)));
        all.push(json(&network::default_deny(ecosystem, namespace)));
    }
    all.extend(objects);
    all.extend(
        namespaces
            .iter()
            .flat_map(|namespace| routes::routes(ecosystem, namespace)),
    );
    all
}

/// The objects of one service, dependencies' addresses resolved; `dependents`
/// are the services that depend on it.
fn service_objects(
    ecosystem: &Ecosystem,
    name: &str,
    service: &Service,
    dependents: &[&str],
) -> Vec<Value> {
    let namespace = namespace_of(ecosystem, service);
    let meta = meta(ecosystem, name, service, &namespace);
    if let Some(address) = ecosystem.environment.external.get(name) {
        return external::objects(address, meta);
    }
    let mut objects = Vec::new();
    objects.push(json(&network::policy(
        ecosystem, name, service, dependents, &meta,
    )));
    let (account, role, binding) = access::access(name, service, &meta);
    objects.extend([json(&account), json(&role), json(&binding)]);
    let config = config_map(ecosystem, name, service, &meta);
    let has_config = config.data.as_ref().is_some_and(|d| !d.is_empty());
    if has_config {
        objects.push(json(&config));
    }
    let pod = pod(ecosystem, name, service, has_config);
    match service.kind {
        Kind::Job => objects.push(json(&job(service, meta, pod))),
        kind if kind.is_data() => {
            let host = ClusterNetwork(ecosystem).host(name);
            let bucket = ecosystem
                .environment
                .backups
                .as_ref()
                .map(|store| backup::Bucket {
                    store,
                    secret: store
                        .secret
                        .clone()
                        .unwrap_or_else(|| format!("{}-backups", ecosystem.name)),
                });
            if let Some((claim, cron_job)) = backup::backup(
                name,
                service,
                &meta,
                &host,
                &ecosystem.environment_name,
                secret_env(name, service),
                bucket.as_ref(),
            ) {
                objects.extend([json(&claim), json(&cron_job)]);
            }
            objects.push(json(&service_object(service, meta.clone(), true)));
            objects.push(json(&stateful_set(name, service, meta, pod)));
        }
        _ => {
            if !service.ports.is_empty() {
                objects.push(json(&service_object(service, meta.clone(), false)));
            }
            if let Some(autoscaler) = availability::autoscaler(service, &meta) {
                objects.push(json(&autoscaler));
            }
            if let Some(budget) = availability::disruption_budget(service, &meta) {
                objects.push(json(&budget));
            }
            objects.push(json(&deployment(ecosystem, service, meta, pod)));
        }
    }
    objects
}

/// The objects as one multi-document YAML file.
pub fn kubernetes(ecosystem: &Ecosystem) -> Vec<File> {
    let objects = objects(ecosystem);
    let documents: Vec<String> = parallel_map(&objects, to_yaml);
    drop_in_background(objects);
    let mut text = header(ecosystem);
    text.reserve(documents.iter().map(|d| d.len() + 4).sum());
    for (index, document) in documents.iter().enumerate() {
        if index > 0 {
            text.push_str("---\n");
        }
        text.push_str(document);
    }
    vec![File {
        name: "kubernetes.yaml".to_owned(),
        text,
    }]
}

fn json<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("objects serialize")
}

/// The namespace a service's objects go in: its own, else the environment's.
pub fn namespace_of(ecosystem: &Ecosystem, service: &Service) -> String {
    service
        .namespace
        .clone()
        .unwrap_or_else(|| ecosystem.namespace().to_owned())
}

/// An init container per dependency that must be up first, as `depends_on`
/// orders the start locally: it waits until the dependency's Service takes
/// connections, which it does once a pod behind it is ready. `kubectl apply`
/// creates everything at once; these make the pods start in dependency order.
/// A job to complete, a log line and what the environment keeps outside are not
/// waited for here: no cluster object answers for them without API access.
fn wait_for_dependencies(ecosystem: &Ecosystem, service: &Service) -> Vec<Container> {
    let network = ClusterNetwork(ecosystem);
    service
        .depends_on
        .iter()
        .filter(|(_, condition)| matches!(condition, Condition::Started | Condition::Healthy))
        .filter(|(dependency, _)| !ecosystem.is_external(dependency))
        .filter_map(|(dependency, _)| {
            let (_, port) = ecosystem.services.get(dependency)?.main_port()?;
            let host = network.host(dependency);
            let name: String = format!("wait-for-{dependency}").chars().take(63).collect();
            Some(Container {
                name: name.trim_end_matches('-').to_owned(),
                image: Some(WAIT_IMAGE.to_owned()),
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    format!("until nc -z -w 2 {host} {port}; do echo waiting for {dependency}; sleep 2; done"),
                ]),
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("10m".into())),
                        ("memory".to_owned(), Quantity("16Mi".into())),
                    ])),
                    limits: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("50m".into())),
                        ("memory".to_owned(), Quantity("32Mi".into())),
                    ])),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            })
        })
        .collect()
}

/// What the dependency waits run in: a small, pinned image with `nc`.
const WAIT_IMAGE: &str = "busybox:1.36.1";

/// In the cluster a service is `NAME.NAMESPACE.svc`, on its own ports.
struct ClusterNetwork<'a>(&'a Ecosystem);

impl Addresses for ClusterNetwork<'_> {
    fn host(&self, service: &str) -> String {
        let spec = &self.0.services[service];
        format!("{service}.{}.svc", namespace_of(self.0, spec))
    }

    fn port(&self, service: &str, port: &str) -> Option<Port> {
        self.0.services.get(service)?.ports.get(port).copied()
    }
}

fn labels(ecosystem: &Ecosystem, name: &str, service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert("app.kubernetes.io/name".into(), name.to_owned());
    labels.insert("app.kubernetes.io/part-of".into(), ecosystem.name.clone());
    labels.insert("app.kubernetes.io/managed-by".into(), "berth".into());
    labels
}

fn selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), name.to_owned())])
}

fn meta(ecosystem: &Ecosystem, name: &str, service: &Service, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels(ecosystem, name, service)),
        ..ObjectMeta::default()
    }
}

fn namespace_object(ecosystem: &Ecosystem, namespace: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/part-of".to_owned(),
                    ecosystem.name.clone(),
                ),
                (
                    "berth.dev/environment".to_owned(),
                    ecosystem.environment_name.clone(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The service's plain settings, references resolved to cluster addresses.
fn config_map(
    ecosystem: &Ecosystem,
    name: &str,
    service: &Service,
    meta: &ObjectMeta,
) -> ConfigMap {
    let data = service
        .env
        .iter()
        .map(|(key, value)| {
            (
                key.clone(),
                address::resolve(value, ecosystem, &ClusterNetwork(ecosystem)),
            )
        })
        .collect();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("{name}-env")),
            ..meta.clone()
        },
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// Where service `name`'s secret `key` is kept on a cluster, as (Secret, key):
/// the Secret named where the reference says, else `NAME-secrets` with the
/// variable's name, lowercased, as its key.
pub fn secret_key_of(name: &str, key: &str, secret: &SecretRef) -> (String, String) {
    match secret {
        SecretRef::Kubernetes(reference) => (reference.name.clone(), reference.key.clone()),
        SecretRef::Env(_) | SecretRef::File(_) => (
            format!("{name}-secrets"),
            key.to_ascii_lowercase().replace('_', "-"),
        ),
    }
}

/// Secrets as `secretKeyRef`s, from where [`secret_key_of`] says.
fn secret_env(name: &str, service: &Service) -> Vec<EnvVar> {
    service
        .secrets
        .iter()
        .map(|(key, secret)| {
            let (secret_name, secret_key) = secret_key_of(name, key, secret);
            EnvVar {
                name: key.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret_name,
                        key: secret_key,
                        ..SecretKeySelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            }
        })
        .collect()
}

fn pod(ecosystem: &Ecosystem, name: &str, service: &Service, has_config: bool) -> PodTemplateSpec {
    let container = Container {
        name: name.to_owned(),
        image: Some(image(ecosystem, name, service)),
        // Kubernetes' `command` is the image's ENTRYPOINT, its `args` the CMD.
        command: service.entrypoint.as_ref().map(Command::argv),
        args: service.command.as_ref().map(Command::argv),
        working_dir: service.working_dir.clone(),
        security_context: service.user.as_deref().and_then(run_as),
        ports: (!service.ports.is_empty()).then(|| {
            service
                .ports
                .iter()
                .map(|(port_name, port)| ContainerPort {
                    name: Some(port_name.clone()),
                    container_port: port.0.into(),
                    ..ContainerPort::default()
                })
                .collect()
        }),
        env_from: has_config.then(|| {
            vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: format!("{name}-env"),
                    ..ConfigMapEnvSource::default()
                }),
                ..EnvFromSource::default()
            }]
        }),
        env: (!service.secrets.is_empty()).then(|| secret_env(name, service)),
        readiness_probe: service.health.readiness.as_ref().map(|p| probe(p, service)),
        liveness_probe: service.health.liveness.as_ref().map(|p| probe(p, service)),
        resources: resources(service),
        volume_mounts: service.kind.data_store().map(|store| {
            vec![VolumeMount {
                name: "data".into(),
                mount_path: store.data_dir.into(),
                ..VolumeMount::default()
            }]
        }),
        ..Container::default()
    };
    // Only what declares metrics is scraped: an image that serves none would
    // show as down for ever.
    let mut annotations: BTreeMap<String, String> = service
        .annotations
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(metrics) = &service.metrics {
        let port = match &metrics.port {
            Some(name) => service.ports.get(name).copied(),
            None => service.main_port().map(|(_, port)| port),
        };
        if let Some(port) = port {
            annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
            annotations.insert("prometheus.io/port".to_owned(), port.to_string());
            annotations.insert("prometheus.io/path".to_owned(), metrics.path.clone());
        }
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(ecosystem, name, service)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            init_containers: Some(wait_for_dependencies(ecosystem, service))
                .filter(|waits| !waits.is_empty()),
            service_account_name: Some(name.to_owned()),
            automount_service_account_token: Some(false),
            restart_policy: (service.kind == Kind::Job).then(|| "Never".to_owned()),
            ..PodSpec::default()
        }),
    }
}

/// `user: 1000:0` as the IDs Kubernetes runs a container as; a user named
/// by name has no ID here, and is left to the image (a render note says so).
fn run_as(user: &str) -> Option<SecurityContext> {
    let (user, group) = user.split_once(':').unwrap_or((user, ""));
    let user: i64 = user.parse().ok()?;
    Some(SecurityContext {
        run_as_user: Some(user),
        run_as_group: group.parse().ok(),
        ..SecurityContext::default()
    })
}

/// The service's image; one only built from a context is named as compose
/// names it, `ECOSYSTEM-SERVICE`, to be pushed under that name.
fn image(ecosystem: &Ecosystem, name: &str, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{name}:latest", ecosystem.name))
}

fn probe(probe: &Probe, service: &Service) -> K8sProbe {
    let port = |port: &Option<PortRef>| match port {
        Some(PortRef::Name(name)) => IntOrString::String(name.clone()),
        Some(PortRef::Number(number)) => IntOrString::Int((*number).into()),
        None => match service.main_port() {
            Some((name, _)) => IntOrString::String(name.to_owned()),
            None => IntOrString::Int(80),
        },
    };
    let seconds = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as i32;
    // The API server stores a 0 here as absent, and a later apply by another
    // field manager would then conflict on it: no delay is no field.
    let delay = probe.initial_delay.0.as_secs() as i32;
    let mut rendered = K8sProbe {
        initial_delay_seconds: (delay > 0).then_some(delay),
        period_seconds: Some(seconds(probe.period.0)),
        timeout_seconds: Some(seconds(probe.timeout.0)),
        failure_threshold: Some(probe.failure_threshold as i32),
        ..K8sProbe::default()
    };
    match &probe.check {
        Check::Http { path, port: p } => {
            rendered.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: port(p),
                ..HTTPGetAction::default()
            })
        }
        Check::Tcp { port: p } => {
            rendered.tcp_socket = Some(TCPSocketAction {
                port: port(p),
                ..TCPSocketAction::default()
            })
        }
        Check::Exec { command } => {
            rendered.exec = Some(ExecAction {
                command: Some(command.argv()),
            })
        }
    }
    rendered
}

fn resources(service: &Service) -> Option<ResourceRequirements> {
    let r = &service.resources;
    let amounts = |cpu: Option<String>, memory: Option<String>| {
        let map: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", memory)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Quantity(v))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let requests = amounts(
        r.cpu.map(|c| c.to_string()),
        r.memory.map(|m| m.to_string()),
    );
    let limits = amounts(
        r.cpu_limit.map(|c| c.to_string()),
        r.memory_limit.map(|m| m.to_string()),
    );
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

fn service_object(service: &Service, metadata: ObjectMeta, headless: bool) -> K8sService {
    let name = metadata.name.clone().unwrap_or_default();
    K8sService {
        metadata,
        spec: Some(ServiceSpec {
            cluster_ip: headless.then(|| "None".to_owned()),
            selector: Some(selector(&name)),
            ports: Some(
                service
                    .ports
                    .iter()
                    .map(|(port_name, port)| ServicePort {
                        name: Some(port_name.clone()),
                        port: port.0.into(),
                        target_port: Some(IntOrString::String(port_name.clone())),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..K8sService::default()
    }
}

fn deployment(
    ecosystem: &Ecosystem,
    service: &Service,
    metadata: ObjectMeta,
    mut pod: PodTemplateSpec,
) -> Deployment {
    let name = metadata.name.clone().unwrap_or_default();
    let replicas = service.replicas();
    if let Some(spec) = pod.spec.as_mut() {
        if replicas > 1 {
            spec.affinity = anti_affinity(&name, service.availability.anti_affinity);
        }
        if ecosystem.environment.production && replicas > 1 {
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "ScheduleAnyway".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(selector(&name)),
                    ..LabelSelector::default()
                }),
                ..TopologySpreadConstraint::default()
            }]);
        }
    }
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas as i32),
            selector: LabelSelector {
                match_labels: Some(selector(&name)),
                ..LabelSelector::default()
            },
            strategy: Some(strategy(service)),
            // The controller's own deadline, which berth's waits read as failure.
            progress_deadline_seconds: service
                .rollout
                .progress_deadline
                .map(|d| d.0.as_secs().min(i32::MAX as u64) as i32),
            template: pod,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Recreate, or a rolling update with the service's surge and unavailability;
/// blue-green and canary are carried out by berth's deploy engine on top of it.
fn strategy(service: &Service) -> DeploymentStrategy {
    if service.rollout.strategy == Strategy::Recreate {
        return DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..DeploymentStrategy::default()
        };
    }
    let amount = |amount: Option<Amount>| {
        amount.map(|a| match a {
            Amount::Count(n) => IntOrString::Int(n as i32),
            Amount::Percent(p) => IntOrString::String(format!("{p}%")),
        })
    };
    let (max_surge, max_unavailable) = (
        amount(service.rollout.max_surge),
        amount(service.rollout.max_unavailable),
    );
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        // Kubernetes' own defaults (25%, 25%) when the service sets neither.
        rolling_update: (max_surge.is_some() || max_unavailable.is_some()).then_some(
            RollingUpdateDeployment {
                max_surge,
                max_unavailable,
            },
        ),
    }
}

/// What the Kubernetes objects cannot carry, said when they are rendered: to
/// `kubectl apply`, a canary or blue-green rollout is a rolling update; an
/// image only built has to be pushed; volumes of services are not made.
pub fn notes(ecosystem: &Ecosystem) -> Vec<String> {
    let environment = &ecosystem.environment_name;
    let mut notes = Vec::new();
    for (name, service) in &ecosystem.services {
        if ecosystem.is_external(name) {
            continue;
        }
        if matches!(
            service.rollout.strategy,
            Strategy::Canary | Strategy::BlueGreen
        ) {
            notes.push(format!(
                "`{name}` rolls out by {} in environment `{environment}`, which plain Kubernetes objects cannot express: applied with kubectl, it rolls out as a rolling update",
                service.rollout.strategy
            ));
        }
        if let Some(user) = &service.user
            && run_as(user).is_none()
        {
            notes.push(format!(
                "`{name}` runs as user `{user}`, a name, which Kubernetes cannot run a container as: its pods run as the image's user; give the user's ID"
            ));
        }
        if service.image.is_none() && service.build.is_some() {
            notes.push(format!(
                "`{name}` is only built, so its pods run `{}`: build and push it under that name, or give the pushed image with `--image {name}=IMAGE`",
                image(ecosystem, name, service)
            ));
        }
        let store_dir = service.kind.data_store().map(|store| store.data_dir);
        let mounts: Vec<String> = service
            .volumes
            .iter()
            .filter(|mount| Some(mount.target.as_str()) != store_dir)
            .map(ToString::to_string)
            .collect();
        if !mounts.is_empty() {
            notes.push(format!(
                "`{name}` mounts {} in environment `{environment}`, which its pods do not: give them a ConfigMap or a PersistentVolumeClaim of your own",
                mounts.join(", ")
            ));
        }
    }
    notes
}

fn anti_affinity(name: &str, placement: AntiAffinity) -> Option<Affinity> {
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(selector(name)),
            ..LabelSelector::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..PodAffinityTerm::default()
    };
    let anti = match placement {
        AntiAffinity::None => return None,
        AntiAffinity::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ]),
            ..PodAntiAffinity::default()
        },
        AntiAffinity::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..PodAntiAffinity::default()
        },
    };
    Some(Affinity {
        pod_anti_affinity: Some(anti),
        ..Affinity::default()
    })
}

fn stateful_set(
    name: &str,
    service: &Service,
    metadata: ObjectMeta,
    pod: PodTemplateSpec,
) -> StatefulSet {
    let storage = service
        .storage
        .map_or_else(|| "1Gi".to_owned(), |s| s.to_string());
    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            service_name: Some(name.to_owned()),
            replicas: Some(service.replicas() as i32),
            selector: LabelSelector {
                match_labels: Some(selector(name)),
                ..LabelSelector::default()
            },
            template: pod,
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(storage))])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn job(service: &Service, metadata: ObjectMeta, pod: PodTemplateSpec) -> Job {
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(service.restart.max_restarts.map_or(6, |n| n as i32)),
            template: pod,
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}
