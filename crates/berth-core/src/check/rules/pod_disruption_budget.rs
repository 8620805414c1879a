use super::rule;
use crate::check::Outcome;
use crate::model::Kind;

rule! {
    /// Replicated services get a PodDisruptionBudget, so a node drain never takes
    /// them all down — and the budget must still let a drain proceed.
    PodDisruptionBudget {
        id: "pod-disruption-budget",
        level: Warning,
        description: "replicated services have a PodDisruptionBudget that allows drains",
        hint: "keep `availability.disruption_budget` on, with `min_available` below `replicas`",
    }
    fn check(subject) -> Outcome {
        let service = subject.service;
        if service.kind != Kind::Service || !subject.production() || service.replicas() < 2 {
            return Outcome::NotApplicable;
        }
        let availability = &service.availability;
        match availability.min_available {
            _ if !availability.disruption_budget => Outcome::Fail("PodDisruptionBudget turned off".into()),
            Some(min) if min >= service.replicas() => Outcome::Fail(format!(
                "min_available {min} of {} replicas blocks every drain",
                service.replicas()
            )),
            _ => Outcome::Pass,
        }
    }
}
