//! Readiness and liveness probes, one module per kind of check.

mod exec;
mod http;
mod tcp;

use std::path::Path;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

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
/// a fixed one-second sleep. Output from the instance (`heard`) brings the next
/// of them forward, never sooner than [`SOONEST_AGAIN`] after the last: most
/// servers say that they listen as they start to, and are seen ready a moment
/// later, not up to 10 ms later. An exec check starts a process: it runs once
/// per period, as it does once ready, whatever the instance says.
pub async fn until_ready(target: &Target, commands: &dyn CommandCheck, heard: &Notify) {
    tokio::time::sleep(target.probe.initial_delay.0).await;
    let period = target.probe.period.0;
    let (mut pause, ceiling, listens) = match target.check {
        Resolved::Exec { .. } => (period, period, false),
        _ => (
            Duration::from_millis(2),
            period.min(Duration::from_millis(10)),
            true,
        ),
    };
    loop {
        let attempted = Instant::now();
        if target.passes(commands).await {
            return;
        }
        let spoke = async {
            if !listens {
                std::future::pending::<()>().await;
            }
            heard.notified().await;
            tokio::time::sleep_until(attempted + SOONEST_AGAIN).await;
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => pause = (pause * 2).min(ceiling),
            _ = spoke => {}
        }
    }
}

/// The least time between two readiness checks of one instance, however much it
/// writes while it starts.
pub const SOONEST_AGAIN: Duration = Duration::from_millis(1);

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

#[cfg(test)]
mod tests {
    use super::*;

    /// No command checks here: the probes below connect.
    struct NoCommands;

    impl CommandCheck for NoCommands {
        fn passes<'a>(&'a self, _: &'a [String]) -> BoxFuture<'a, bool> {
            Box::pin(async { false })
        }
    }

    fn unused_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    /// Probes a port that starts to listen after 50 ms, with `say` telling the
    /// probe then; returns how long after the listener the probe passed.
    async fn seen_after_listening(say: bool) -> Duration {
        let port = unused_port();
        let probe = Probe::new(Check::Tcp {
            port: Some(PortRef::Number(port)),
        });
        let target = Target::new(&probe, &IndexMap::new()).expect("a numbered port");
        let heard = Notify::new();
        let probing = async {
            until_ready(&target, &NoCommands, &heard).await;
            Instant::now()
        };
        let listening = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("the port is still free");
            if say {
                heard.notify_one();
            }
            (listener, Instant::now())
        };
        let (passed, (_listener, listened)) = tokio::join!(probing, listening);
        passed - listened
    }

    // The clock is paused: the checks' 2, 4, 8, 10, 10… ms pauses are exact, so
    // the last one before the listener (at 44 ms) would next look at 54 ms.
    #[tokio::test(start_paused = true)]
    async fn output_from_the_instance_brings_the_next_check_forward() {
        assert!(seen_after_listening(true).await <= SOONEST_AGAIN);
    }

    #[tokio::test(start_paused = true)]
    async fn without_output_the_check_waits_its_pause() {
        assert!(seen_after_listening(false).await > SOONEST_AGAIN);
    }

    #[tokio::test(start_paused = true)]
    async fn output_never_brings_checks_closer_than_the_soonest_again() {
        // A server that is never ready, counting the checks it answers.
        let heard = Notify::new();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a port");
        let port = listener.local_addr().expect("its address").port();
        let checks = std::sync::atomic::AtomicU32::new(0);
        let serving = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let (mut stream, _) = listener.accept().await.expect("a check");
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                checks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // It says something each time it is asked, as well.
                heard.notify_one();
                let _ = stream
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        };
        let probe = Probe::new(Check::Http {
            path: "/ready".to_owned(),
            port: Some(PortRef::Number(port)),
        });
        let target = Target::new(&probe, &IndexMap::new()).expect("a numbered port");
        // 20 ms of output, a line every millisecond (the timers' finest step).
        let chatter = async {
            for _ in 0..20 {
                heard.notify_one();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let probing = tokio::time::timeout(
            Duration::from_millis(20),
            until_ready(&target, &NoCommands, &heard),
        );
        tokio::select! {
            _ = serving => unreachable!("the server serves until dropped"),
            (_, probed) = async { tokio::join!(chatter, probing) } => {
                assert!(probed.is_err(), "a server answering 503 is never ready");
            }
        }
        let checks = checks.into_inner();
        assert!((2..=21).contains(&checks), "{checks} checks in 20 ms");
    }
}
