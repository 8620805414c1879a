//! `berth graph`: the dependency graph as Mermaid (as the seeds draw theirs) or DOT.

use berth_core::graph::DependencyGraph;
use berth_core::{Ecosystem, Problems};

use super::{Exit, ecosystem};
use crate::cli::{Global, GraphFormat};

pub fn run(global: &Global, format: GraphFormat) -> Result<Exit, Problems> {
    ecosystem(global, |_, ecosystem| {
        let text = match format {
            GraphFormat::Mermaid => mermaid(ecosystem),
            GraphFormat::Dot => dot(ecosystem),
        };
        print!("{text}");
        Ok(Exit::Success)
    })
}

/// Nodes grouped by phase; an arrow from each dependent to what it depends on,
/// labelled with the condition. Data stores are drawn as cylinders.
pub fn mermaid(ecosystem: &Ecosystem) -> String {
    let graph = DependencyGraph::new(ecosystem);
    let mut out = String::from("graph TD\n");
    for phase in &ecosystem.phases {
        let members: Vec<&String> = ecosystem
            .services
            .keys()
            .filter(|s| ecosystem.phase_of(s) == phase)
            .collect();
        if members.is_empty() {
            continue;
        }
        out += &format!("  subgraph {phase}\n");
        for name in members {
            let shape = if ecosystem.services[name].kind.is_data() {
                format!("[({name})]")
            } else {
                format!("[{name}]")
            };
            out += &format!("    {}{shape}\n", id(name));
        }
        out += "  end\n";
    }
    for name in graph.names() {
        for (dependency, condition) in graph.dependencies(name) {
            out += &format!("  {} -->|{condition}| {}\n", id(name), id(dependency));
        }
    }
    out
}

pub fn dot(ecosystem: &Ecosystem) -> String {
    let graph = DependencyGraph::new(ecosystem);
    let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n", ecosystem.name);
    for (index, phase) in ecosystem.phases.iter().enumerate() {
        let members: Vec<&String> = ecosystem
            .services
            .keys()
            .filter(|s| ecosystem.phase_of(s) == phase)
            .collect();
        if members.is_empty() {
            continue;
        }
        out += &format!("  subgraph cluster_{index} {{\n    label=\"{phase}\";\n");
        for name in members {
            let shape = if ecosystem.services[name].kind.is_data() {
                "cylinder"
            } else {
                "box"
            };
            out += &format!("    \"{name}\" [shape={shape}];\n");
        }
        out += "  }\n";
    }
    for name in graph.names() {
        for (dependency, condition) in graph.dependencies(name) {
            out += &format!("  \"{name}\" -> \"{dependency}\" [label=\"{condition}\"];\n");
        }
    }
    out + "}\n"
}

/// Mermaid ids may not contain `-`.
fn id(name: &str) -> String {
    name.replace('-', "_")
}
