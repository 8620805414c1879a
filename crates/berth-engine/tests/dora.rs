//! DORA metrics over a synthetic history whose answers are worked out by hand.

use berth_core::revision::Revision;
use berth_engine::dora::dora;
use berth_engine::history::{Outcome, Record, Trigger};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn record(
    number: u64,
    trigger: Trigger,
    outcome: Outcome,
    ended: i64,
    lead: Option<i64>,
) -> Record {
    Record {
        number,
        environment: "prod".into(),
        trigger,
        revision: Revision(format!("r{number}")),
        previous: None,
        services: Default::default(),
        changed: Vec::new(),
        source: String::new(),
        user: "ci".into(),
        commit: lead.map(|_| "abc".into()),
        commit_time: lead.map(|lead| (ended - lead) / 1000),
        reason: None,
        started: ended - 60_000,
        ended: Some(ended),
        outcome,
    }
}

#[test]
fn the_four_metrics_and_their_bands() {
    let since = 100 * DAY;
    let until = since + 10 * DAY;
    use Outcome::*;
    let history = [
        record(1, Trigger::Deploy, Succeeded, since - DAY, Some(HOUR)), // before the window
        record(2, Trigger::Deploy, Succeeded, since + DAY, Some(2 * HOUR)),
        record(3, Trigger::Deploy, Failed, since + 2 * DAY, Some(HOUR)),
        record(4, Trigger::Deploy, RolledBack, since + 2 * DAY + HOUR, None),
        record(
            5,
            Trigger::Deploy,
            Succeeded,
            since + 2 * DAY + 3 * HOUR,
            Some(10 * HOUR),
        ),
        record(
            6,
            Trigger::Deploy,
            Succeeded,
            since + 5 * DAY,
            Some(4 * HOUR),
        ),
        record(7, Trigger::Rollback, Succeeded, since + 6 * DAY, None),
        record(8, Trigger::Deploy, Interrupted, since + 7 * DAY, None),
        record(9, Trigger::Deploy, Running, since + 8 * DAY, None),
    ];
    let report = dora(&history, since, until);
    // Deployments 2 to 7 finished in the window; 8 was interrupted, 9 runs.
    assert_eq!(report.deployments, 6);
    // 2, 5 and 6 succeeded as deployments (7 is a rollback): 3 in 10 days.
    assert_eq!(report.frequency.value, Some(0.3));
    assert_eq!(report.frequency.band, Some("high"));
    // Lead times 2 h, 10 h and 4 h: the median is 4 h.
    assert_eq!(report.lead_time.value, Some(4.0));
    assert_eq!(report.lead_time.band, Some("elite"));
    // 3 failed and 4 rolled back, of 6.
    let rate = report.change_failure_rate.value.unwrap();
    assert!((rate - 100.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(report.change_failure_rate.band, Some("low"));
    // From the first failure (3) to the next success (5): 3 hours.
    assert_eq!(report.recovery_time.value, Some(3.0));
    assert_eq!(report.recovery_time.band, Some("high"));
    assert!(report.report.contains("2024"));
}

#[test]
fn no_history_is_no_data_not_zero() {
    let report = dora(&[], 0, DAY);
    assert_eq!(report.deployments, 0);
    assert_eq!(report.lead_time.value, None);
    assert_eq!(report.change_failure_rate.value, None);
    assert_eq!(report.frequency.band, None);
}
