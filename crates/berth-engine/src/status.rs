//! What a unit's instances are doing, as every runtime reports it and the
//! engine judges it.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started yet.
    Pending,
    Running,
    /// Waiting to be started again after it exited.
    Restarting,
    /// A job that exited 0.
    Completed,
    /// Exited and will not be started again (policy `never`, or a failed job).
    Exited(i32),
    /// Gave up: it kept failing past `max_restarts`.
    CrashLoop,
    /// Could not be started at all.
    Failed(String),
    Stopped,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Pending => f.write_str("pending"),
            State::Running => f.write_str("running"),
            State::Restarting => f.write_str("restarting"),
            State::Completed => f.write_str("completed"),
            State::Exited(code) => write!(f, "exited ({code})"),
            State::CrashLoop => f.write_str("crash-loop"),
            State::Failed(why) => write!(f, "failed: {why}"),
            State::Stopped => f.write_str("stopped"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Status {
    /// What output lines and log files are named: the service, or `service.N`.
    pub label: String,
    pub state: State,
    pub pid: Option<u32>,
    /// Readiness: its probe passed since it last started.
    pub ready: bool,
    /// Whether it has started at least once (the `started` condition).
    pub started: bool,
    pub restarts: u32,
    /// When the current run started.
    pub since: Option<std::time::SystemTime>,
    /// For each log-line condition on this service, whether a line matched it.
    pub log_matched: Vec<bool>,
}

impl Status {
    pub fn new(label: &str, log_conditions: usize) -> Self {
        Status {
            label: label.to_owned(),
            state: State::Pending,
            pid: None,
            ready: false,
            started: false,
            restarts: 0,
            since: None,
            log_matched: vec![false; log_conditions],
        }
    }

    /// The process has ended: no pid, no uptime, not ready.
    pub fn process_gone(&mut self) {
        self.pid = None;
        self.since = None;
        self.ready = false;
    }

    /// It will never change by itself again.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            State::Completed
                | State::Exited(_)
                | State::CrashLoop
                | State::Failed(_)
                | State::Stopped
        )
    }
}

/// Every instance of one unit.
#[derive(Clone, Debug, Default)]
pub struct UnitStatus {
    pub instances: Vec<Status>,
}

impl UnitStatus {
    /// Instances ready for traffic.
    pub fn ready(&self) -> usize {
        self.instances.iter().filter(|s| s.ready).count()
    }
}
