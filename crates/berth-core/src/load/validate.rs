//! Checks that need the whole ecosystem: references between services, phases,
//! cycles, port clashes, deployments. Each problem points at where it was written.

use std::collections::{HashMap, HashSet};

use crate::check;
use crate::graph::DependencyGraph;
use crate::model::{
    Check, Condition, Ecosystem, Field, Kind, Port, PortRef, Probe, Reference, Runtime, Service,
    Strategy,
};
use crate::problem::{Problem, did_you_mean, quoted_list, suggestion, unknown_name};
use crate::source::Span;
use crate::yaml::Node;

use super::dns_label_problem;
use super::names::{env_name_problem, label_problem, port_name_problem};

/// Where things are in the file, for the environment being validated.
pub(super) struct Located<'a> {
    pub root: &'a Node,
    pub environment: Option<&'a Node>,
    /// Services that did not deserialize (already reported): validated no further.
    pub broken: &'a HashSet<String>,
}

impl Located<'_> {
    /// The key at `path` inside a service, in the environment's overlay if it set it
    /// there, else in the base.
    fn service(&self, service: &str, path: &[&str]) -> Span {
        let mut full = vec!["services", service];
        full.extend_from_slice(path);
        self.environment
            .and_then(|env| env.find_key(&full))
            .unwrap_or_else(|| self.root.key_span(&full))
    }

    /// Where `${service.field}` is written in a service's env value `key`: the
    /// reference itself when the value is written as it reads (plain, or quoted
    /// without escapes), else the whole value.
    fn reference(&self, service: &str, key: &str, reference: &Reference) -> Span {
        let path = ["services", service, "env", key];
        let Some(node) = self
            .environment
            .and_then(|env| env.at(&path))
            .or_else(|| self.root.at(&path))
        else {
            return self.service(service, &["env", key]);
        };
        let written = format!("${{{}.{}}}", reference.service, reference.field);
        let (Some(text), span) = (node.as_str(), node.span) else {
            return node.span;
        };
        let quote = match span.len().checked_sub(text.len()) {
            Some(0) => 0,
            Some(2) => 1,
            _ => return span,
        };
        match text.find(&written) {
            Some(at) => {
                let start = span.start + quote + at;
                Span::new(start, start + written.len())
            }
            None => span,
        }
    }

    fn environment(&self, ecosystem: &Ecosystem, path: &[&str]) -> Span {
        let mut full = vec!["environments", ecosystem.environment_name.as_str()];
        full.extend_from_slice(path);
        self.root.key_span(&full)
    }
}

pub(super) fn validate(ecosystem: &Ecosystem, at: &Located) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, service) in ecosystem
        .services
        .iter()
        .filter(|(n, _)| !at.broken.contains(*n))
    {
        let mut service_check = ServiceCheck {
            ecosystem,
            name,
            service,
            at,
            problems: &mut problems,
        };
        service_check.run();
    }
    port_clashes(ecosystem, at, &mut problems);
    route_clashes(ecosystem, at, &mut problems);
    cycles(ecosystem, at, &mut problems);
    externals(ecosystem, at, &mut problems);
    deployments(ecosystem, at, &mut problems);
    standards(ecosystem, at, &mut problems);
    problems
}

struct ServiceCheck<'a> {
    ecosystem: &'a Ecosystem,
    name: &'a str,
    service: &'a Service,
    at: &'a Located<'a>,
    problems: &'a mut Vec<Problem>,
}

impl ServiceCheck<'_> {
    fn span(&self, path: &[&str]) -> Span {
        self.at.service(self.name, path)
    }

    /// Labels and port names that Kubernetes would refuse, and variable names that
    /// no process could be given, refused here first.
    fn names(&mut self) {
        for key in self.service.env.keys() {
            let span = self.span(&["env", key]);
            self.problems.extend(env_name_problem(key, span));
        }
        for key in self.service.secrets.keys() {
            let span = self.span(&["secrets", key]);
            self.problems.extend(env_name_problem(key, span));
        }
        for (key, value) in &self.service.labels {
            let span = self.span(&["labels", key]);
            self.problems.extend(label_problem(key, value, span));
        }
        for name in self.service.ports.keys() {
            let span = self.span(&["ports", name]);
            self.problems.extend(port_name_problem(name, span));
        }
        for name in self.service.publish.iter().flat_map(|p| p.keys()) {
            if !self.service.ports.contains_key(name) {
                let ports = quoted_list(self.service.ports.keys().map(String::as_str));
                self.problems.push(
                    Problem::new(format!(
                        "`{}` publishes port `{name}`, which it does not declare",
                        self.name
                    ))
                    .at(self.span(&["publish", name]), "no such port")
                    .help(format!(
                        "publish one of its ports ({ports}), or declare `{name}` under `ports:`"
                    )),
                );
            }
        }
    }

    fn run(&mut self) {
        self.phase();
        self.runnable();
        self.replicated_data();
        self.dependencies();
        self.references();
        self.probes();
        self.metrics();
        self.rollout();
        self.autoscale();
        self.waivers();
        self.names();
        if let Some(namespace) = &self.service.namespace
            && let Some(problem) =
                dns_label_problem("namespace", namespace, self.span(&["namespace"]))
        {
            self.problems.push(problem);
        }
        for key in self
            .service
            .secrets
            .keys()
            .filter(|k| self.service.env.contains_key(*k))
        {
            self.problems.push(
                Problem::new(format!("`{key}` is set both in `env` and in `secrets`"))
                    .at(self.span(&["secrets", key]), "also a secret")
                    .also_at(self.span(&["env", key]), "set here")
                    .help("keep it in `secrets` only, so its value never lands in a file"),
            );
        }
    }

    fn phase(&mut self) {
        match &self.service.phase {
            None => self.problems.push(
                Problem::new(format!("service `{}` has no phase", self.name))
                    .at(self.span(&[]), "needs `phase:`")
                    .help(format!(
                        "this ecosystem's phases are {}; add `phase:` with one of them",
                        quoted_list(self.ecosystem.phases.iter().map(String::as_str))
                    )),
            ),
            Some(phase) if !self.ecosystem.phases.contains(phase) => {
                let phases = self.ecosystem.phases.iter().map(String::as_str);
                let help = suggestion(phase, phases.clone(), || {
                    format!(
                        "the phases are {}; declare new ones under `phases:`",
                        quoted_list(phases)
                    )
                });
                self.problems.push(
                    Problem::new(format!("there is no phase `{phase}`"))
                        .at(self.span(&["phase"]), "unknown phase")
                        .help(help),
                );
            }
            Some(_) => {}
        }
    }

    fn runnable(&mut self) {
        let s = self.service;
        if s.kind.is_data()
            || s.image.is_some()
            || s.build.is_some()
            || s.local.is_some()
            || s.command.is_some()
        {
            return;
        }
        self.problems.push(
            Problem::new(format!("service `{}` has nothing to run", self.name))
                .at(self.span(&[]), "no image, build, command or local run")
                .help("give `image:` or `build:` for containers, and `local: { run: COMMAND }` to run it as a local process"),
        );
    }

    /// A data store of several replicas would be that many unclustered stores,
    /// each with its own data: refused until berth sets up a replica set or a
    /// cluster.
    fn replicated_data(&mut self) {
        let s = self.service;
        let replicas = s.replicas.unwrap_or(1);
        if !s.kind.is_data() || replicas <= 1 || self.ecosystem.is_external(self.name) {
            return;
        }
        self.problems.push(
            Problem::new(format!(
                "`{}` is a {} of {replicas} replicas, and berth runs a data store as one instance",
                self.name, s.kind
            ))
            .at(self.span(&["replicas"]), "more than one")
            .help("keep `replicas: 1`; for a replica set or a cluster run by an operator or a managed service, list it under the environment's `external:`"),
        );
    }

    fn dependencies(&mut self) {
        let service = self.service;
        for (dependency, condition) in service.depends_on.iter() {
            let found = self.dependency_problems(dependency, condition);
            self.problems.extend(found);
        }
    }

    /// What is wrong with depending on `dependency` under `condition`.
    fn dependency_problems(&self, dependency: &str, condition: &Condition) -> Vec<Problem> {
        // Looked up only when there is something to report.
        let span = || self.span(&["depends_on", dependency]);
        if dependency == self.name {
            return vec![
                Problem::new(format!("service `{}` depends on itself", self.name))
                    .at(span(), "remove this")
                    .help("a service cannot wait for itself"),
            ];
        }
        let Some(target) = self.ecosystem.services.get(dependency) else {
            let known = self.ecosystem.services.keys().map(String::as_str);
            return vec![unknown_name("service", dependency, span(), known)];
        };
        if self.at.broken.contains(dependency) {
            return Vec::new();
        }
        let mut found = Vec::new();
        match condition {
            Condition::Healthy if target.kind == Kind::Job => found.push(
                Problem::new(format!("`{dependency}` is a job: it runs to completion and is never healthy"))
                    .at(span(), "waits for a job to be healthy")
                    .help(format!("write `{dependency}: completed`")),
            ),
            Condition::Completed if target.kind != Kind::Job => found.push(
                Problem::new(format!("`{dependency}` is not a job: it never completes"))
                    .at(span(), "waits for a service to complete")
                    .help(format!("write `{dependency}: healthy` or `{dependency}: started`, or make it `kind: job`")),
            ),
            Condition::Healthy if target.health.readiness.is_none() && !self.ecosystem.is_external(dependency) => found.push(
                Problem::new(format!("`{}` waits for `{dependency}` to be healthy, but `{dependency}` has no readiness probe", self.name))
                    .at(span(), "can never be met")
                    .help(format!("add `health: {{ readiness: ... }}` to `{dependency}`, or depend on it as `started`")),
            ),
            _ => {}
        }
        let (mine, theirs) = (
            self.ecosystem.phase_of(self.name),
            self.ecosystem.phase_of(dependency),
        );
        if self.ecosystem.phase_index(theirs) > self.ecosystem.phase_index(mine)
            && self.ecosystem.phase_index(theirs) != usize::MAX
        {
            found.push(
                Problem::new(format!("`{}` (phase {mine}) depends on `{dependency}`, which deploys in a later phase ({theirs})", self.name))
                    .at(span(), "depends on a later phase")
                    .help(format!("move `{dependency}` to phase {mine} or earlier, or `{}` to phase {theirs} or later", self.name)),
            );
        }
        found
    }

    fn references(&mut self) {
        let service = self.service;
        for (key, template) in &service.env {
            for reference in template.references() {
                if let Some(problem) = self.reference_problem(key, reference) {
                    self.problems.push(problem);
                }
            }
        }
    }

    /// What is wrong with a `${service.field}` reference in env value `key`.
    fn reference_problem(&self, key: &str, reference: &Reference) -> Option<Problem> {
        // Looked up only when there is something to report.
        let span = || self.at.reference(self.name, key, reference);
        let Some(target) = self.ecosystem.services.get(&reference.service) else {
            let services = self.ecosystem.services.keys().map(String::as_str);
            let help = match did_you_mean(&reference.service, services.clone()) {
                Some(close) => format!("did you mean `${{{close}.{}}}`?", reference.field),
                None => format!(
                    "references name a service: the services are {}",
                    quoted_list(services)
                ),
            };
            return Some(
                Problem::new(format!("there is no service `{}`", reference.service))
                    .at(span(), "unknown service")
                    .help(help),
            );
        };
        if self.ecosystem.is_external(&reference.service)
            || self.at.broken.contains(&reference.service)
        {
            return None;
        }
        match &reference.field {
            Field::NamedPort(port) if !target.ports.contains_key(port) => Some(
                Problem::new(format!(
                    "`{}` has no port named `{port}`",
                    reference.service
                ))
                .at(span(), "unknown port")
                .help(format!(
                    "its ports are {}",
                    quoted_list(target.ports.keys().map(String::as_str))
                )),
            ),
            Field::Url | Field::Port if target.ports.is_empty() => Some(
                Problem::new(format!(
                    "`${{{}.{}}}` refers to a service with no ports",
                    reference.service, reference.field
                ))
                .at(span(), "has no address")
                .help(format!("declare `ports:` on `{}`", reference.service)),
            ),
            _ => None,
        }
    }

    fn probes(&mut self) {
        let health = &self.service.health;
        for (which, probe) in [
            ("liveness", &health.liveness),
            ("readiness", &health.readiness),
        ] {
            if let Some(probe) = probe {
                self.probe(which, probe);
            }
        }
    }

    fn probe(&mut self, which: &str, probe: &Probe) {
        let port = match &probe.check {
            Check::Http { port, .. } | Check::Tcp { port } => port,
            Check::Exec { .. } => return,
        };
        let ports = self.service.ports.keys().map(String::as_str);
        match port {
            Some(PortRef::Name(name)) if !self.service.ports.contains_key(name) => {
                self.problems.push(
                    Problem::new(format!(
                        "the {which} probe of `{}` uses port `{name}`, which it does not declare",
                        self.name
                    ))
                    .at(self.span(&["health", which]), "unknown port")
                    .help(suggestion(name, ports.clone(), || {
                        format!(
                            "declare it under `ports:`; the ports are {}",
                            quoted_list(ports)
                        )
                    })),
                )
            }
            None if self.service.ports.is_empty() => self.problems.push(
                Problem::new(format!(
                    "the {which} probe of `{}` needs a port, and the service declares none",
                    self.name
                ))
                .at(self.span(&["health", which]), "no port to probe")
                .help("declare `ports: { http: PORT }`, or give the probe a `port:`"),
            ),
            _ => {}
        }
    }

    /// Metrics are scraped from a port the service declares.
    fn metrics(&mut self) {
        let Some(metrics) = &self.service.metrics else {
            return;
        };
        let ports = self.service.ports.keys().map(String::as_str);
        let problem = match &metrics.port {
            Some(name) if !self.service.ports.contains_key(name) => Problem::new(format!(
                "`{}` serves metrics on port `{name}`, which it does not declare",
                self.name
            ))
            .at(self.span(&["metrics"]), "unknown port")
            .help(suggestion(name, ports.clone(), || {
                format!("its ports are {}", quoted_list(ports))
            })),
            None if self.service.ports.is_empty() => Problem::new(format!(
                "`{}` serves metrics, and declares no port to scrape them on",
                self.name
            ))
            .at(self.span(&["metrics"]), "no port")
            .help("declare `ports: { http: PORT }`, or give `metrics: { port: NAME, path: PATH }`"),
            _ => return,
        };
        self.problems.push(problem);
    }

    fn rollout(&mut self) {
        let rollout = &self.service.rollout;
        if rollout.strategy != Strategy::Canary {
            if !rollout.steps.is_empty() {
                self.problems.push(
                    Problem::new(format!(
                        "`steps` apply to canary rollouts, and this one is {}",
                        rollout.strategy
                    ))
                    .at(self.span(&["rollout", "steps"]), "not used")
                    .help("set `strategy: canary`, or remove `steps`"),
                );
            }
            return;
        }
        let ascending = rollout.steps.windows(2).all(|w| w[0] < w[1]);
        let bounded = rollout.steps.iter().all(|s| (1..=100).contains(s));
        if !rollout.steps.is_empty()
            && (!ascending || !bounded || rollout.steps.last() != Some(&100))
        {
            self.problems.push(
                Problem::new("canary steps must rise from 1 to 100 and end at 100")
                    .at(self.span(&["rollout", "steps"]), "invalid steps")
                    .help("write the traffic percentages in order, such as [10, 50, 100]"),
            );
        }
    }

    fn autoscale(&mut self) {
        let Some(autoscale) = &self.service.autoscale else {
            return;
        };
        for (key, target) in [("cpu", autoscale.cpu), ("memory", autoscale.memory)] {
            if let Some(target) = target.filter(|t| !(1..=100).contains(&t.0)) {
                self.problems.push(
                    Problem::new(format!(
                        "autoscale {key} target {target} is not a utilisation"
                    ))
                    .at(self.span(&["autoscale", key]), "out of range")
                    .help("give a percentage of the request from 1% to 100%, such as 70%"),
                );
            }
        }
    }

    fn waivers(&mut self) {
        for rule in self.service.waive.keys() {
            if check::rule(rule).is_none() {
                self.problems
                    .push(unknown_rule(rule, self.span(&["waive", rule])));
            }
        }
    }
}

fn unknown_rule(rule: &str, span: Span) -> Problem {
    let help = suggestion(rule, check::RULES.iter().map(|r| r.id()), || {
        "`berth check --list` lists the checks".to_owned()
    });
    Problem::new(format!("there is no check `{rule}`"))
        .at(span, "unknown check")
        .help(help)
}

/// Local processes and published compose ports share the host: two services on one
/// port cannot both start. (Pods in Kubernetes each have their own.)
fn port_clashes(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    if ecosystem.environment.runtime == Runtime::Kubernetes {
        return;
    }
    let mut taken: HashMap<u16, (&str, &str)> = HashMap::new();
    let gateway = ecosystem.services.values().any(|s| !s.routes.is_empty());
    for (name, service) in ecosystem
        .services
        .iter()
        .filter(|(n, _)| !ecosystem.is_external(n))
    {
        for (port_name, port) in host_ports(ecosystem, service) {
            if gateway
                && ecosystem.environment.runtime == Runtime::Local
                && port == ecosystem.environment.gateway.port
            {
                problems.push(
                    Problem::new(format!("`{name}` uses port {port}, which the gateway serves routes on"))
                        .at(at.service(name, &["ports", port_name]), "taken by the gateway")
                        .help("move the service to another port, or set `gateway: { port: ... }` on the environment"),
                );
            }
            let port = &port;
            match taken.get(&port.0) {
                Some((other, other_port)) => problems.push(
                    Problem::new(format!("port {port} is used by both `{other}` and `{name}`"))
                        .at(at.service(name, &["ports", port_name]), "second use")
                        .also_at(at.service(other, &["ports", other_port]), "first use")
                        .help(format!("in the {} runtime services share the host's ports: give one of them another port", ecosystem.environment.runtime)),
                ),
                None => {
                    taken.insert(port.0, (name, port_name));
                }
            }
        }
    }
}

/// The ports a service takes on the host: all of them for local processes, the
/// published ones for containers.
fn host_ports<'a>(ecosystem: &Ecosystem, service: &'a Service) -> Vec<(&'a str, Port)> {
    match ecosystem.environment.runtime {
        Runtime::Local => service
            .ports
            .iter()
            .map(|(name, port)| (name.as_str(), *port))
            .collect(),
        _ => service
            .published()
            .into_iter()
            .filter_map(|(name, at)| Some((name, at.port?)))
            .collect(),
    }
}

fn route_clashes(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    let mut taken: HashMap<&str, &str> = HashMap::new();
    for (name, service) in &ecosystem.services {
        for route in &service.routes {
            if let Some(other) = taken.insert(&route.prefix, name) {
                problems.push(
                    Problem::new(format!(
                        "route {} goes to both `{other}` and `{name}`",
                        route.prefix
                    ))
                    .at(at.service(name, &["routes"]), "second route")
                    .also_at(at.service(other, &["routes"]), "first route")
                    .help("give each service its own prefix"),
                );
            }
        }
    }
}

fn cycles(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    for cycle in DependencyGraph::new(ecosystem).cycles() {
        if cycle.len() == 2 {
            continue; // a service depending on itself, reported with the service
        }
        let path = cycle.join(" → ");
        let mut problem = Problem::new(format!("dependency cycle: {path}"))
            .at(
                at.service(cycle[0], &["depends_on", cycle[1]]),
                "the cycle starts here",
            )
            .help("nothing in a cycle can start first: remove one of these dependencies");
        for pair in cycle.windows(2).skip(1) {
            problem = problem.also_at(
                at.service(pair[0], &["depends_on", pair[1]]),
                format!("{} → {}", pair[0], pair[1]),
            );
        }
        problems.push(problem);
    }
}

fn externals(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    for name in ecosystem.environment.external.keys() {
        if !ecosystem.services.contains_key(name) {
            problems.push(unknown_name(
                "service",
                name,
                at.environment(ecosystem, &["external", name]),
                ecosystem.services.keys().map(String::as_str),
            ));
        }
    }
}

fn deployments(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    let environments: Vec<&str> = at
        .root
        .get("environments")
        .and_then(Node::as_map)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for (name, deployment) in &ecosystem.deployments {
        let span = |key: &str, item: &str| at.root.key_span(&["deployments", name, key, item]);
        for service in &deployment.services {
            if !ecosystem.services.contains_key(service) {
                problems.push(unknown_name(
                    "service",
                    service,
                    span("services", service),
                    ecosystem.services.keys().map(String::as_str),
                ));
            }
        }
        for included in &deployment.include {
            if !ecosystem.deployments.contains_key(included) {
                problems.push(unknown_name(
                    "deployment",
                    included,
                    span("include", included),
                    ecosystem.deployments.keys().map(String::as_str),
                ));
            }
        }
        for environment in &deployment.environments {
            if !environments.is_empty() && !environments.contains(&environment.as_str()) {
                problems.push(unknown_name(
                    "environment",
                    environment,
                    span("environments", environment),
                    environments.iter().copied(),
                ));
            }
        }
        if let Some(cycle) = include_cycle(ecosystem, name, &mut vec![name.as_str()])
            && cycle.first() == Some(&name.as_str())
        {
            problems.push(
                Problem::new(format!(
                    "deployments include each other: {}",
                    cycle.join(" → ")
                ))
                .at(
                    at.root.key_span(&["deployments", name, "include"]),
                    "the cycle starts here",
                )
                .help("remove one of these includes"),
            );
        }
    }
}

fn include_cycle<'a>(
    ecosystem: &'a Ecosystem,
    name: &str,
    path: &mut Vec<&'a str>,
) -> Option<Vec<&'a str>> {
    for included in &ecosystem.deployments.get(name)?.include {
        if path.contains(&included.as_str()) {
            let mut cycle = path.clone();
            cycle.push(included);
            return Some(cycle);
        }
        path.push(included);
        if let Some(cycle) = include_cycle(ecosystem, included, path) {
            return Some(cycle);
        }
        path.pop();
    }
    None
}

fn standards(ecosystem: &Ecosystem, at: &Located, problems: &mut Vec<Problem>) {
    for rule in ecosystem.standards.checks.keys() {
        if check::rule(rule).is_none() {
            problems.push(unknown_rule(
                rule,
                at.root.key_span(&["standards", "checks", rule]),
            ));
        }
    }
    if let Some(path) = &ecosystem.standards.health_path
        && !path.starts_with('/')
    {
        problems.push(
            Problem::new(format!("`{path}` is not an HTTP path"))
                .at(
                    at.root.key_span(&["standards", "health_path"]),
                    "not a path",
                )
                .help("paths start with `/`, as in /healthz"),
        );
    }
}
