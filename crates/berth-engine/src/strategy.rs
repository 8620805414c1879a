//! Strategies as pure step lists: how one service goes from its old revision to
//! its new one. `berth deploy --dry-run` prints these steps; the executor runs
//! them; tests check them without a runtime.

use std::fmt;
use std::time::Duration;

use berth_core::model::{Amount, Kind, Rollout, Strategy};
use serde::{Deserialize, Serialize};

/// The canary steps when berth.yaml names none.
pub const CANARY_STEPS: [u32; 3] = [10, 50, 100];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", content = "value", rename_all = "snake_case")]
pub enum Step {
    /// Run this many instances of the new revision.
    ScaleNew(u32),
    /// Run this many instances of the old revision.
    ScaleOld(u32),
    /// Wait until every new instance is settled (ready, or completed for a job).
    AwaitNew,
    /// Wait until every old instance is settled again.
    AwaitOld,
    /// Requests from the smoke checks to one new instance, past the router.
    SmokeDirect,
    /// Requests from the smoke checks through the service's router.
    SmokeRouted,
    /// The share of traffic, in percent, the new revision gets.
    Weight(u32),
    /// Traffic spread over every ready instance, whatever its revision.
    EvenTraffic,
    /// Measure the new revision for this long and judge it.
    Analyse(Duration),
    /// Wait this long, or until `berth promote` (`None`: only until then).
    Pause(Option<Duration>),
    RemoveOld,
    RemoveNew,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = |d: &Duration| humantime::format_duration(*d).to_string();
        match self {
            Step::ScaleNew(n) => write!(f, "run {n} new"),
            Step::ScaleOld(n) => write!(f, "run {n} old"),
            Step::AwaitNew => f.write_str("await new ready"),
            Step::AwaitOld => f.write_str("await old ready"),
            Step::SmokeDirect => f.write_str("smoke checks on new"),
            Step::SmokeRouted => f.write_str("smoke checks through the router"),
            Step::Weight(w) => write!(f, "weight {w}% new"),
            Step::EvenTraffic => f.write_str("traffic even over ready instances"),
            Step::Analyse(d) => write!(f, "analyse {}", span(d)),
            Step::Pause(Some(d)) => write!(f, "pause {}", span(d)),
            Step::Pause(None) => f.write_str("pause until promote"),
            Step::RemoveOld => f.write_str("remove old"),
            Step::RemoveNew => f.write_str("remove new"),
        }
    }
}

/// The strategy a service really gets: jobs and data stores are recreated,
/// since two of them at once would run a migration twice or share a data
/// directory.
pub fn effective(kind: Kind, rollout: &Rollout) -> Strategy {
    match kind {
        Kind::Service => rollout.strategy,
        _ => Strategy::Recreate,
    }
}

/// The steps from `old` instances (none on a first deploy) to `replicas` new ones.
pub fn steps(kind: Kind, rollout: &Rollout, old: Option<u32>, replicas: u32) -> Vec<Step> {
    let Some(old) = old else {
        return vec![Step::ScaleNew(replicas), Step::AwaitNew];
    };
    match effective(kind, rollout) {
        Strategy::Recreate => vec![
            Step::RemoveOld,
            Step::ScaleNew(replicas),
            Step::AwaitNew,
            Step::EvenTraffic,
        ],
        Strategy::Rolling => rolling(rollout, old, replicas),
        Strategy::BlueGreen => blue_green(rollout, replicas),
        Strategy::Canary => canary(rollout, replicas),
    }
}

/// The steps that put the old set back after a failed step: traffic to it first,
/// then its instances, then the new ones go.
pub fn restore(old: Option<u32>) -> Vec<Step> {
    match old {
        Some(old) => vec![
            Step::Weight(0),
            Step::ScaleOld(old),
            Step::AwaitOld,
            Step::RemoveNew,
            Step::EvenTraffic,
        ],
        None => vec![Step::RemoveNew],
    }
}

/// Kubernetes' arithmetic: surge rounds up, unavailable rounds down, and both
/// zero means a surge of one.
fn surge_and_unavailable(rollout: &Rollout, replicas: u32) -> (u32, u32) {
    let resolve =
        |amount: Option<Amount>, default: Amount, up: bool| match amount.unwrap_or(default) {
            Amount::Count(n) => n,
            Amount::Percent(p) if up => (replicas * p).div_ceil(100),
            Amount::Percent(p) => replicas * p / 100,
        };
    let surge = resolve(rollout.max_surge, Amount::Percent(25), true);
    let unavailable = resolve(rollout.max_unavailable, Amount::Count(0), false);
    if surge == 0 && unavailable == 0 {
        (1, 0)
    } else {
        (surge, unavailable)
    }
}

fn rolling(rollout: &Rollout, old: u32, replicas: u32) -> Vec<Step> {
    let (surge, unavailable) = surge_and_unavailable(rollout, replicas);
    let mut steps = vec![Step::EvenTraffic];
    let (mut new, mut old) = (0, old);
    while new < replicas {
        if surge > 0 {
            new = (new + surge).min(replicas);
            steps.extend([Step::ScaleNew(new), Step::AwaitNew]);
            let keep = replicas.saturating_sub(new + unavailable);
            // The last of the old set goes with `RemoveOld`.
            if keep < old && keep > 0 {
                old = keep;
                steps.push(Step::ScaleOld(old));
            }
        } else {
            let take = unavailable.min(old).max(1);
            old = old.saturating_sub(take);
            new = (replicas - old).min(replicas);
            steps.extend([Step::ScaleOld(old), Step::ScaleNew(new), Step::AwaitNew]);
        }
    }
    steps.push(Step::RemoveOld);
    steps
}

fn blue_green(rollout: &Rollout, replicas: u32) -> Vec<Step> {
    let mut steps = vec![Step::ScaleNew(replicas), Step::AwaitNew, Step::SmokeDirect];
    if rollout.manual_promotion {
        steps.push(Step::Pause(None));
    }
    steps.extend([Step::Weight(100), Step::SmokeRouted]);
    // The old set stays for a while, ready to take traffic back: analysed, if the
    // rollout says how, for that while.
    steps.push(match &rollout.analysis {
        Some(_) => Step::Analyse(rollout.keep_previous()),
        None => Step::Pause(Some(rollout.keep_previous())),
    });
    steps.extend([Step::RemoveOld, Step::EvenTraffic]);
    steps
}

fn canary(rollout: &Rollout, replicas: u32) -> Vec<Step> {
    let weights: Vec<u32> = if rollout.steps.is_empty() {
        CANARY_STEPS.to_vec()
    } else {
        rollout.steps.clone()
    };
    let mut steps = Vec::new();
    for (i, weight) in weights.iter().copied().filter(|w| *w < 100).enumerate() {
        let instances = (replicas * weight).div_ceil(100).max(1);
        steps.extend([Step::ScaleNew(instances), Step::AwaitNew]);
        if i == 0 {
            steps.push(Step::SmokeDirect);
        }
        steps.push(Step::Weight(weight));
        if let Some(analysis) = &rollout.analysis {
            steps.push(Step::Analyse(analysis.interval()));
        }
        if let Some(pause) = rollout.pause {
            steps.push(Step::Pause(Some(pause.0)));
        }
    }
    steps.extend([
        Step::ScaleNew(replicas),
        Step::AwaitNew,
        Step::Weight(100),
        Step::SmokeRouted,
        Step::RemoveOld,
        Step::EvenTraffic,
    ]);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::model::{Analysis, Duration as Span};

    fn rollout(strategy: Strategy) -> Rollout {
        Rollout {
            strategy,
            ..Rollout::default()
        }
    }

    #[test]
    fn a_first_deploy_only_starts() {
        let steps = steps(Kind::Service, &rollout(Strategy::Canary), None, 3);
        assert_eq!(steps, [Step::ScaleNew(3), Step::AwaitNew]);
    }

    #[test]
    fn rolling_surges_one_at_a_time_and_never_drops_below_the_count() {
        let mut r = rollout(Strategy::Rolling);
        r.max_surge = Some(Amount::Count(1));
        let steps = steps(Kind::Service, &r, Some(3), 3);
        use Step::*;
        assert_eq!(
            steps,
            [
                EvenTraffic,
                ScaleNew(1),
                AwaitNew,
                ScaleOld(2),
                ScaleNew(2),
                AwaitNew,
                ScaleOld(1),
                ScaleNew(3),
                AwaitNew,
                RemoveOld
            ]
        );
        // Ready instances never fall below the desired count: each old instance
        // goes only after a new one is ready.
        let (mut new_ready, mut old) = (0, 3);
        let mut pending = 0;
        for step in &steps {
            match step {
                ScaleNew(n) => pending = *n,
                AwaitNew => new_ready = pending,
                ScaleOld(n) => old = *n,
                _ => {}
            }
            assert!(new_ready + old >= 3, "{step} leaves too few");
        }
    }

    #[test]
    fn rolling_with_unavailable_and_no_surge_replaces_in_place() {
        let mut r = rollout(Strategy::Rolling);
        r.max_surge = Some(Amount::Count(0));
        r.max_unavailable = Some(Amount::Percent(50));
        use Step::*;
        assert_eq!(
            steps(Kind::Service, &r, Some(4), 4),
            [
                EvenTraffic,
                ScaleOld(2),
                ScaleNew(2),
                AwaitNew,
                ScaleOld(0),
                ScaleNew(4),
                AwaitNew,
                RemoveOld
            ]
        );
    }

    #[test]
    fn blue_green_smokes_switches_and_keeps_the_old_set_a_while() {
        let mut r = rollout(Strategy::BlueGreen);
        r.manual_promotion = true;
        use Step::*;
        assert_eq!(
            steps(Kind::Service, &r, Some(2), 2),
            [
                ScaleNew(2),
                AwaitNew,
                SmokeDirect,
                Pause(None),
                Weight(100),
                SmokeRouted,
                Pause(Some(Duration::from_secs(30))),
                RemoveOld,
                EvenTraffic
            ]
        );
    }

    #[test]
    fn canary_weights_in_steps_with_analysis_between() {
        let mut r = rollout(Strategy::Canary);
        r.steps = vec![10, 50, 100];
        r.analysis = Some(Analysis {
            interval: Some(Span(Duration::from_secs(2))),
            ..Analysis::default()
        });
        use Step::*;
        let two = Duration::from_secs(2);
        assert_eq!(
            steps(Kind::Service, &r, Some(4), 4),
            [
                ScaleNew(1),
                AwaitNew,
                SmokeDirect,
                Weight(10),
                Analyse(two),
                ScaleNew(2),
                AwaitNew,
                Weight(50),
                Analyse(two),
                ScaleNew(4),
                AwaitNew,
                Weight(100),
                SmokeRouted,
                RemoveOld,
                EvenTraffic
            ]
        );
    }

    #[test]
    fn jobs_and_data_stores_are_recreated_whatever_the_file_says() {
        for kind in [Kind::Job, Kind::Postgres] {
            assert_eq!(
                steps(kind, &rollout(Strategy::Canary), Some(1), 1)[0],
                Step::RemoveOld
            );
        }
    }

    #[test]
    fn restore_sends_traffic_back_before_removing_the_new_set() {
        assert_eq!(
            restore(Some(2)),
            [
                Step::Weight(0),
                Step::ScaleOld(2),
                Step::AwaitOld,
                Step::RemoveNew,
                Step::EvenTraffic
            ]
        );
        assert_eq!(restore(None), [Step::RemoveNew]);
    }
}
