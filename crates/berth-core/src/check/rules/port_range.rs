use super::rule;
use crate::check::Outcome;

rule! {
    /// The ecosystem's port standard (such as OpenPolicy's 9000 series).
    PortRange {
        id: "port-range",
        level: Error,
        description: "service ports are inside the standards' port range",
        hint: "move the port into the range given by `standards.ports`",
    }
    fn check(subject) -> Outcome {
        let Some(range) = subject.ecosystem.standards.ports else {
            return Outcome::NotApplicable;
        };
        if subject.service.kind.is_data() || subject.service.ports.is_empty() {
            return Outcome::NotApplicable;
        }
        let outside: Vec<String> = subject
            .service
            .ports
            .iter()
            .filter(|(_, port)| !range.contains(**port))
            .map(|(name, port)| format!("{name} {port}"))
            .collect();
        if outside.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("port {} outside {range}", outside.join(", ")))
        }
    }
}
