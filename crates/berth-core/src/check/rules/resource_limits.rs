use super::rule;
use crate::check::Outcome;

rule! {
    /// Limits keep one runaway service from starving its neighbours.
    ResourceLimits {
        id: "resource-limits",
        level: Warning,
        description: "CPU and memory limits are set, and not below the requests",
        hint: "add `cpu_limit` and `memory_limit` to `resources`, at least as large as the requests",
    }
    fn check(subject) -> Outcome {
        let r = &subject.service.resources;
        let (Some(cpu_limit), Some(memory_limit)) = (r.cpu_limit, r.memory_limit) else {
            return Outcome::Fail("no CPU or memory limit".into());
        };
        if r.cpu.is_some_and(|cpu| cpu > cpu_limit) {
            return Outcome::Fail(format!("CPU limit {cpu_limit} is below the request"));
        }
        if r.memory.is_some_and(|memory| memory > memory_limit) {
            return Outcome::Fail(format!("memory limit {memory_limit} is below the request"));
        }
        Outcome::Pass
    }
}
