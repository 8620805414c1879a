use super::rule;
use crate::check::Outcome;

rule! {
    /// A liveness probe that checks readiness restarts a healthy service whenever a
    /// dependency is slow, turning one outage into many.
    LivenessDiffers {
        id: "liveness-differs",
        level: Warning,
        description: "the liveness probe checks something other than readiness",
        hint: "point liveness at a cheap endpoint that does not check dependencies, such as /healthz",
    }
    fn check(subject) -> Outcome {
        let health = &subject.service.health;
        match (&health.liveness, &health.readiness) {
            (Some(liveness), Some(readiness)) if liveness.check == readiness.check => {
                Outcome::Fail("liveness and readiness probe the same thing".into())
            }
            (Some(_), Some(_)) => Outcome::Pass,
            _ => Outcome::NotApplicable,
        }
    }
}
