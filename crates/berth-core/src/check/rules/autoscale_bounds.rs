use super::rule;
use crate::check::Outcome;

rule! {
    /// An autoscaler whose bounds contradict each other or the HA floor does not do
    /// what it says.
    AutoscaleBounds {
        id: "autoscale-bounds",
        level: Error,
        description: "autoscale bounds are sane: 1 ≤ min ≤ max, min ≥ 2 in production-like environments",
        hint: "set `autoscale.min` to at least 2 in production and no higher than `autoscale.max`",
    }
    fn check(subject) -> Outcome {
        let Some(autoscale) = &subject.service.autoscale else {
            return Outcome::NotApplicable;
        };
        if autoscale.min > autoscale.max {
            Outcome::Fail(format!("min {} is above max {}", autoscale.min, autoscale.max))
        } else if autoscale.min == 0 {
            Outcome::Fail("min is 0".into())
        } else if subject.production() && autoscale.min < 2 {
            Outcome::Fail(format!("min {} below the production floor of 2", autoscale.min))
        } else if autoscale.cpu.is_none() && autoscale.memory.is_none() {
            Outcome::Fail("no cpu or memory target to scale on".into())
        } else {
            Outcome::Pass
        }
    }
}
