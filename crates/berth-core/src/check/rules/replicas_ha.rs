use super::rule;
use crate::check::Outcome;
use crate::model::Kind;

rule! {
    /// One replica is one node failure away from an outage.
    ReplicasHa {
        id: "replicas-ha",
        level: Error,
        description: "at least 2 replicas in production-like environments",
        hint: "set `replicas: 2` or more in this environment's overlay (or `autoscale.min`)",
    }
    fn check(subject) -> Outcome {
        if subject.service.kind != Kind::Service || !subject.production() {
            return Outcome::NotApplicable;
        }
        let floor = subject
            .service
            .autoscale
            .as_ref()
            .map_or(subject.service.replicas(), |a| a.min.max(subject.service.replicas()));
        if floor >= 2 {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("{floor} replica in a production-like environment"))
        }
    }
}
