//! What follows an instance's exit, whatever runs it: a job settles, a service
//! restarts by its policy with backoff, and one that cannot get going is given up.

use std::time::Duration;

use berth_core::model::{Kind, Restart, RestartPolicy};
use berth_engine::State;

/// How many times in a row a process that has never been ready is started.
pub const STARTS_BEFORE_READY: u32 = 5;

/// What follows a process's exit.
pub enum AfterExit {
    /// It stays in this state, with a note to show.
    Settle(State, Option<String>),
    /// It starts again after this pause.
    Restart(Duration),
}

/// A job completes or fails; a service restarts by its policy, with backoff, until
/// it has failed `max_restarts` times in a row — or, if it has never been ready,
/// [`STARTS_BEFORE_READY`] times, so that a start that cannot succeed says so
/// rather than wait for ever.
pub fn after_exit(
    kind: Kind,
    restart: &Restart,
    code: i32,
    failures_in_a_row: u32,
    ever_ready: bool,
) -> AfterExit {
    let success = code == 0;
    if kind == Kind::Job {
        let state = if success {
            State::Completed
        } else {
            State::Exited(code)
        };
        return AfterExit::Settle(state, None);
    }
    let again = match restart.policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => !success,
        RestartPolicy::Never => false,
    };
    if !again {
        return AfterExit::Settle(State::Exited(code), None);
    }
    if !ever_ready && failures_in_a_row >= STARTS_BEFORE_READY {
        let note = format!(
            "berth: exited {failures_in_a_row} times in a row and was never ready; not starting it again (crash-loop)"
        );
        return AfterExit::Settle(State::CrashLoop, Some(note));
    }
    if restart
        .max_restarts
        .is_some_and(|max| failures_in_a_row > max)
    {
        let note = format!(
            "berth: gave up after {} restarts in a row (crash-loop)",
            failures_in_a_row - 1
        );
        return AfterExit::Settle(State::CrashLoop, Some(note));
    }
    AfterExit::Restart(backoff(restart, failures_in_a_row))
}

/// The wait before restart number `n` in a row: doubling from `backoff`, capped.
pub fn backoff(restart: &Restart, n: u32) -> Duration {
    let doubled = restart
        .backoff
        .0
        .saturating_mul(1 << n.saturating_sub(1).min(20));
    doubled.min(restart.max_backoff.0)
}
