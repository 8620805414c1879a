//! `berth plan`: phases, parallel waves and what gates each start.

use berth_core::Problems;
use berth_core::plan::{self, Plan};

use super::{Exit, ecosystem};
use crate::cli::{Format, Global};
use crate::output;

pub fn run(global: &Global, names: &[String]) -> Result<Exit, Problems> {
    ecosystem(global, |_, ecosystem| {
        let selection = plan::select(ecosystem, names)?;
        let plan = plan::plan(ecosystem, &selection);
        match global.output {
            Format::Json => output::json(&plan),
            Format::Text => print!("{}", render(&plan)),
        }
        Ok(Exit::Success)
    })
}

pub fn render(plan: &Plan) -> String {
    let count = plan.services().count();
    let mut out = format!(
        "Plan for {} in environment {} (runtime {}): {count} service{} in {} phase{}\n",
        plan.ecosystem,
        plan.environment,
        plan.runtime,
        if count == 1 { "" } else { "s" },
        plan.phases.len(),
        if plan.phases.len() == 1 { "" } else { "s" },
    );
    for command in &plan.pre {
        out += &format!("\nbefore: {command}");
    }
    if !plan.pre.is_empty() {
        out += "\n";
    }
    for external in &plan.external {
        out += &format!("\nexternal {} at {}", external.service, external.address);
    }
    if !plan.external.is_empty() {
        out += "\n";
    }
    let width = plan.services().map(|s| s.service.len()).max().unwrap_or(0);
    for phase in &plan.phases {
        out += &format!("\nphase {}\n", phase.name);
        for (index, wave) in phase.waves.iter().enumerate() {
            for (position, step) in wave.iter().enumerate() {
                let label = if position == 0 {
                    format!("wave {}", index + 1)
                } else {
                    String::new()
                };
                let mut line = format!(
                    "  {label:<8} {:<width$}  {:<10}",
                    step.service,
                    describe(step)
                );
                if !step.after.is_empty() {
                    let gates: Vec<String> = step
                        .after
                        .iter()
                        .map(|g| format!("{} {}", g.service, g.condition))
                        .collect();
                    line += &format!(" after {}", gates.join(", "));
                }
                out += line.trim_end();
                out += "\n";
            }
        }
    }
    for command in &plan.post {
        out += &format!("\nafter: {command}");
    }
    if !plan.post.is_empty() {
        out += "\n";
    }
    if plan.critical_chain.len() > 1 {
        out += &format!(
            "\ncritical chain: {} ({} services)\n",
            plan.critical_chain.join(" → "),
            plan.critical_chain.len()
        );
    }
    out
}

fn describe(step: &plan::Step) -> String {
    let kind = step.kind.to_string();
    if step.replicas == 1 {
        kind
    } else {
        format!("{kind} ×{}", step.replicas)
    }
}
