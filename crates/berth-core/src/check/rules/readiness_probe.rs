use super::rule;
use crate::check::Outcome;

rule! {
    /// Without a readiness probe, traffic and dependents arrive before the service is ready.
    ReadinessProbe {
        id: "readiness-probe",
        level: Error,
        description: "a readiness probe gates traffic and dependents",
        hint: "add `health: { readiness: /ready }` (or a tcp or exec probe)",
    }
    fn check(subject) -> Outcome {
        if !subject.service.is_long_running() {
            return Outcome::NotApplicable;
        }
        match subject.service.health.readiness {
            Some(_) => Outcome::Pass,
            None => Outcome::Fail("no readiness probe".into()),
        }
    }
}
