use super::rule;
use crate::check::Outcome;

rule! {
    /// The scheduler places pods by their requests; without them, nodes overcommit.
    ResourceRequests {
        id: "resource-requests",
        level: Error,
        description: "CPU and memory requests are set",
        hint: "add `resources: { cpu: 250m, memory: 256Mi }`",
    }
    fn check(subject) -> Outcome {
        let resources = &subject.service.resources;
        let missing: Vec<&str> = [("cpu", resources.cpu.is_some()), ("memory", resources.memory.is_some())]
            .into_iter()
            .filter(|(_, set)| !set)
            .map(|(name, _)| name)
            .collect();
        if missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("no {} request", missing.join(" or ")))
        }
    }
}
