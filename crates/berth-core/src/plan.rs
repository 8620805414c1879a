//! `berth plan`: what starts when, and what waits for what.

use indexmap::IndexSet;
use serde::Serialize;

use crate::graph::{DependencyGraph, Direction};
use crate::model::{Command, Condition, Ecosystem, Kind};
use crate::problem::{Problem, Problems, quoted_list, suggestion};

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub ecosystem: String,
    pub environment: String,
    pub runtime: String,
    pub phases: Vec<Phase>,
    /// Services this environment keeps outside, with their addresses.
    pub external: Vec<External>,
    /// The longest chain of dependencies, first to start first.
    pub critical_chain: Vec<String>,
    /// Commands of the selected deployments, run before and after.
    pub pre: Vec<Command>,
    pub post: Vec<Command>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: String,
    /// Services in the same wave start in parallel; a wave starts once what it
    /// waits for is met.
    pub waves: Vec<Vec<Step>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub service: String,
    pub kind: Kind,
    pub replicas: u32,
    /// What must hold before this service starts.
    pub after: Vec<Gate>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Gate {
    pub service: String,
    pub condition: Wait,
}

/// What a gate waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// The dependency, run by this environment, reaches the condition.
    Until(Condition),
    /// Nothing: the environment keeps the dependency outside, already running.
    External,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::Until(condition) => condition.fmt(f),
            Wait::External => f.write_str("external"),
        }
    }
}

/// Written as it reads: `healthy`, `log /ready/`, `external`.
impl Serialize for Wait {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct External {
    pub service: String,
    pub address: String,
}

impl Plan {
    pub fn services(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|p| p.waves.iter().flatten())
    }
}

/// The names a user selects with: deployments (with what they include) and services.
/// Nothing selected means every service that has no profiles, as in compose.
pub struct Selection {
    pub services: Vec<String>,
    pub pre: Vec<Command>,
    pub post: Vec<Command>,
}

pub fn select(ecosystem: &Ecosystem, names: &[String]) -> Result<Selection, Problems> {
    let mut selection = Selection {
        services: Vec::new(),
        pre: Vec::new(),
        post: Vec::new(),
    };
    if names.is_empty() {
        selection.services = ecosystem
            .services
            .iter()
            .filter(|(_, service)| service.profiles.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        return Ok(selection);
    }
    let mut problems = Vec::new();
    for name in names {
        if ecosystem.services.contains_key(name) {
            selection.services.push(name.clone());
        } else if ecosystem.deployments.contains_key(name) {
            if let Err(problem) = add_deployment(ecosystem, name, &mut selection) {
                problems.push(problem);
            }
        } else {
            problems.push(unknown_name(ecosystem, name));
        }
    }
    if problems.is_empty() {
        Ok(selection)
    } else {
        Err(Problems(problems))
    }
}

fn add_deployment(
    ecosystem: &Ecosystem,
    name: &str,
    selection: &mut Selection,
) -> Result<(), Problem> {
    let deployment = &ecosystem.deployments[name];
    let here = &ecosystem.environment_name;
    if !deployment.environments.is_empty() && !deployment.environments.contains(here) {
        return Err(Problem::new(format!(
            "deployment `{name}` applies to {}, not to `{here}`",
            quoted_list(deployment.environments.iter().map(String::as_str))
        ))
        .help(format!("run it with `-e {}`", deployment.environments[0])));
    }
    selection.pre.extend(deployment.pre.iter().cloned());
    for included in &deployment.include {
        add_deployment(ecosystem, included, selection)?;
    }
    selection
        .services
        .extend(deployment.services.iter().cloned());
    selection.post.extend(deployment.post.iter().cloned());
    Ok(())
}

fn unknown_name(ecosystem: &Ecosystem, name: &str) -> Problem {
    let known = ecosystem
        .services
        .keys()
        .chain(ecosystem.deployments.keys())
        .map(String::as_str);
    let help = suggestion(name, known, || {
        "name services or deployments of berth.yaml; `berth plan` with no names plans everything"
            .to_owned()
    });
    Problem::new(format!("`{name}` is neither a service nor a deployment")).help(help)
}

/// Plans the selected services and everything they depend on.
pub fn plan(ecosystem: &Ecosystem, selection: &Selection) -> Plan {
    let graph = DependencyGraph::new(ecosystem);
    let wanted = graph.closure(selection.services.iter().map(String::as_str));
    let (external, members): (Vec<&str>, Vec<&str>) = wanted
        .iter()
        .copied()
        .partition(|name| ecosystem.is_external(name));
    let members: IndexSet<&str> = members.into_iter().collect();
    let phases = ecosystem
        .phases
        .iter()
        .filter_map(|phase| {
            let in_phase: IndexSet<&str> = members
                .iter()
                .copied()
                .filter(|s| ecosystem.phase_of(s) == phase)
                .collect();
            (!in_phase.is_empty()).then(|| Phase {
                name: phase.clone(),
                waves: graph
                    .waves(&in_phase, Direction::Up)
                    .into_iter()
                    .map(|wave| wave.into_iter().map(|s| step(ecosystem, s)).collect())
                    .collect(),
            })
        })
        .collect();
    Plan {
        ecosystem: ecosystem.name.clone(),
        environment: ecosystem.environment_name.clone(),
        runtime: ecosystem.environment.runtime.to_string(),
        phases,
        external: external
            .into_iter()
            .map(|s| External {
                service: s.to_owned(),
                address: ecosystem.environment.external[s].to_string(),
            })
            .collect(),
        critical_chain: graph
            .critical_chain(&members)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        pre: selection.pre.clone(),
        post: selection.post.clone(),
    }
}

fn step(ecosystem: &Ecosystem, service: &str) -> Step {
    let spec = &ecosystem.services[service];
    Step {
        service: service.to_owned(),
        kind: spec.kind,
        replicas: spec.replicas(),
        after: spec
            .depends_on
            .iter()
            .map(|(dependency, condition)| Gate {
                service: dependency.clone(),
                condition: if ecosystem.is_external(dependency) {
                    Wait::External
                } else {
                    Wait::Until(condition.clone())
                },
            })
            .collect(),
    }
}
