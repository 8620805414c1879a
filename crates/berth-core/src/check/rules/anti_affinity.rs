use super::rule;
use crate::check::Outcome;
use crate::model::{AntiAffinity as Placement, Kind};

rule! {
    /// Replicas on one node share its fate.
    AntiAffinity {
        id: "anti-affinity",
        level: Warning,
        description: "replicas are spread over nodes by pod anti-affinity",
        hint: "set `availability.anti_affinity` to `preferred` (the default) or `required`",
    }
    fn check(subject) -> Outcome {
        let service = subject.service;
        if service.kind != Kind::Service || !subject.production() || service.replicas() < 2 {
            return Outcome::NotApplicable;
        }
        if service.availability.anti_affinity == Placement::None {
            Outcome::Fail("anti-affinity turned off".into())
        } else {
            Outcome::Pass
        }
    }
}
