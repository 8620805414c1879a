//! Readiness and liveness probes, one module per kind of check.

mod exec;
mod http;
mod tcp;

use std::path::Path;
use std::time::Duration;

use berth_core::model::{Check, PortRef, Probe};
use berth_engine::BoxFuture;
use indexmap::IndexMap;

use berth_core::model::Port;

use crate::guard::Guard;

/// Where a probe's command runs: beside the instance on this machine, or inside
/// its container.
pub trait CommandCheck: Sync {
    /// Whether the command ran and exited 0.
    fn passes<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, bool>;
}

/// A probe's command as a process of its own here, in `dir`, watched by the guard.
pub struct Beside<'a> {
    pub dir: &'a Path,
    pub guard: &'a Guard,
}

impl CommandCheck for Beside<'_> {
    fn passes<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, bool> {
        Box::pin(exec::passes(argv, self.dir, self.guard))
    }
}

/// A probe with its port resolved, ready to run against one instance.
#[derive(Clone, Debug)]
pub struct Target {
    check: Resolved,
    pub probe: Probe,
}

#[derive(Clone, Debug)]
enum Resolved {
    Http { port: u16, path: String },
    Tcp { port: u16 },
    Exec { argv: Vec<String> },
}

impl Target {
    pub fn new(probe: &Probe, ports: &IndexMap<String, Port>) -> Option<Target> {
        let port = |port: &Option<PortRef>| -> Option<u16> {
            match port {
                Some(PortRef::Number(number)) => Some(*number),
                Some(PortRef::Name(name)) => ports.get(name).map(|p| p.0),
                None => ports.values().next().map(|p| p.0),
            }
        };
        let check = match &probe.check {
            Check::Http { path, port: p } => Resolved::Http {
                port: port(p)?,
                path: path.clone(),
            },
            Check::Tcp { port: p } => Resolved::Tcp { port: port(p)? },
            Check::Exec { command } => Resolved::Exec {
                argv: command.argv(),
            },
        };
        Some(Target {
            check,
            probe: probe.clone(),
        })
    }

    /// One check, bounded by the probe's timeout.
    pub async fn passes(&self, commands: &dyn CommandCheck) -> bool {
        let attempt = async {
            match &self.check {
                Resolved::Http { port, path } => http::passes(*port, path).await,
                Resolved::Tcp { port } => tcp::passes(*port).await,
                Resolved::Exec { argv } => commands.passes(argv).await,
            }
        };
        tokio::time::timeout(self.probe.timeout.0, attempt)
            .await
            .unwrap_or(false)
    }
}

/// Waits until the probe passes, after its initial delay. An HTTP or TCP check
/// costs a connection: they start 2 ms apart and back off to 10 ms (or the
/// probe's period, if shorter), so that readiness is noticed within 10 ms without
/// a fixed one-second sleep. An exec check starts a process: it runs once per
/// period, as it does once ready.
pub async fn until_ready(target: &Target, commands: &dyn CommandCheck) {
    tokio::time::sleep(target.probe.initial_delay.0).await;
    let period = target.probe.period.0;
    let (mut pause, ceiling) = match target.check {
        Resolved::Exec { .. } => (period, period),
        _ => (
            Duration::from_millis(2),
            period.min(Duration::from_millis(10)),
        ),
    };
    while !target.passes(commands).await {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(ceiling);
    }
}

/// Returns when the probe has failed `failure_threshold` times in a row, checking
/// once per period after the initial delay.
pub async fn until_failed(target: &Target, commands: &dyn CommandCheck) {
    tokio::time::sleep(target.probe.initial_delay.0).await;
    let mut failures = 0;
    while failures < target.probe.failure_threshold {
        tokio::time::sleep(target.probe.period.0).await;
        failures = if target.passes(commands).await {
            0
        } else {
            failures + 1
        };
    }
}
