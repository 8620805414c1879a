//! The executor: runs one service's strategy steps against a runtime, records each
//! step, and on a failed gate or analysis restores the old set — with the
//! evidence of why kept in the timeline.

use std::time::Duration;

use berth_core::model::{NoData, Rollout};
use regex::Regex;
use tokio::sync::watch;

use crate::analysis::{MetricProvider, Verdict, judge};
use crate::condition;
use crate::history::{Entry, Evidence, now};
use crate::runtime::{Desired, Failure, Runtime};
use crate::smoke;
use crate::strategy::{self, Step};

/// What a user can tell a running deployment: `berth promote` (counted, so that
/// each promote releases one pause) and `berth abort`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Control {
    pub promotions: u64,
    pub abort: bool,
}

/// Why a rollout stopped short.
#[derive(Clone, Debug)]
pub enum Stop {
    Failed(Evidence),
    Aborted,
}

/// The journal: every step and decision, as it happens.
pub type Journal<'a> = &'a (dyn Fn(Entry) + Sync);

pub fn note(journal: Journal, service: Option<&str>, what: impl Into<String>) {
    journal(Entry {
        at: now(),
        service: service.map(str::to_owned),
        what: what.into(),
        evidence: None,
    });
}

/// One service going from its old set to its new one.
pub struct ServiceRollout<'a> {
    pub runtime: &'a dyn Runtime,
    pub metrics: &'a dyn MetricProvider,
    pub new: Desired,
    /// The old set, and how many instances of it ran.
    pub old: Option<(Desired, u32)>,
    pub rollout: Rollout,
    pub journal: Journal<'a>,
    pub control: watch::Receiver<Control>,
    breaches: u32,
}

impl<'a> ServiceRollout<'a> {
    pub fn new(
        runtime: &'a dyn Runtime,
        metrics: &'a dyn MetricProvider,
        new: Desired,
        old: Option<(Desired, u32)>,
        journal: Journal<'a>,
        control: watch::Receiver<Control>,
    ) -> Self {
        let rollout = new.ecosystem.services[&new.unit.service].rollout.clone();
        ServiceRollout {
            runtime,
            metrics,
            new,
            old,
            rollout,
            journal,
            control,
            breaches: 0,
        }
    }

    fn service(&self) -> &str {
        &self.new.unit.service
    }

    /// Runs `steps`; on a stop, restores the old set and returns why it stopped.
    pub async fn run(&mut self, steps: &[Step]) -> Result<(), Stop> {
        for step in steps {
            note(self.journal, Some(self.service()), step.to_string());
            if let Err(stop) = self.step(step).await {
                self.record_stop(&stop);
                self.restore().await;
                return Err(stop);
            }
        }
        Ok(())
    }

    /// Puts the old set back as it was; what cannot be restored is recorded.
    pub async fn restore(&mut self) {
        // Restoring is what an abort asks for: nothing may abort it in turn.
        self.control = watch::channel(Control::default()).1;
        let old = self.old.as_ref().map(|(_, replicas)| *replicas);
        note(
            self.journal,
            Some(self.service()),
            "restoring the previous revision",
        );
        for step in strategy::restore(old) {
            if let Err(stop) = self.step(&step).await {
                let why = match stop {
                    Stop::Failed(evidence) => evidence.reason,
                    Stop::Aborted => "aborted".to_owned(),
                };
                note(
                    self.journal,
                    Some(self.service()),
                    format!("restoring failed at `{step}`: {why}"),
                );
                return;
            }
        }
        note(
            self.journal,
            Some(self.service()),
            "previous revision restored",
        );
    }

    fn record_stop(&self, stop: &Stop) {
        let (what, evidence) = match stop {
            Stop::Failed(evidence) => (
                format!("failed: {}", evidence.reason),
                Some(evidence.clone()),
            ),
            Stop::Aborted => ("aborted by `berth abort`".to_owned(), None),
        };
        (self.journal)(Entry {
            at: now(),
            service: Some(self.service().to_owned()),
            what,
            evidence,
        });
    }

    async fn step(&mut self, step: &Step) -> Result<(), Stop> {
        let runtime = self.runtime;
        match step {
            Step::ScaleNew(n) => runtime.apply(&self.new, *n).await.map_err(failed),
            Step::ScaleOld(n) => match &self.old {
                Some((old, _)) => runtime.apply(old, *n).await.map_err(failed),
                None => Ok(()),
            },
            Step::AwaitNew => self.await_settled(&self.new.clone()).await,
            Step::AwaitOld => match self.old.clone() {
                Some((old, _)) => self.await_settled(&old).await,
                None => Ok(()),
            },
            Step::SmokeDirect => {
                let address = runtime.direct_address(&self.new.unit);
                self.smoke(address).await
            }
            Step::SmokeRouted => {
                let address = runtime.service_address(self.service());
                self.smoke(address).await
            }
            Step::Weight(weight) => {
                self.set_weight(*weight);
                Ok(())
            }
            Step::EvenTraffic => {
                runtime.set_weights(self.service(), &[]);
                Ok(())
            }
            Step::Analyse(window) => self.analyse(*window).await,
            Step::Pause(duration) => self.pause(*duration).await,
            Step::RemoveOld => {
                if let Some((old, _)) = &self.old
                    && old.unit != self.new.unit
                {
                    runtime.remove(&old.unit).await;
                }
                Ok(())
            }
            Step::RemoveNew => {
                let same = self
                    .old
                    .as_ref()
                    .is_some_and(|(old, _)| old.unit == self.new.unit);
                if !same {
                    runtime.remove(&self.new.unit).await;
                }
                Ok(())
            }
        }
    }

    fn set_weight(&self, weight: u32) {
        if self
            .old
            .as_ref()
            .is_some_and(|(old, _)| old.unit == self.new.unit)
        {
            self.runtime.set_weights(self.service(), &[]);
            return;
        }
        let mut weights = vec![(self.new.unit.revision.clone(), weight)];
        if let Some((old, _)) = &self.old
            && old.unit != self.new.unit
        {
            weights.push((old.unit.revision.clone(), 100 - weight));
        }
        self.runtime.set_weights(self.service(), &weights);
    }

    async fn await_settled(&self, desired: &Desired) -> Result<(), Stop> {
        let service = &desired.unit.service;
        let condition = condition::settled(&desired.ecosystem, service);
        let patterns: Vec<Regex> = condition::log_patterns(&desired.ecosystem, service);
        let deadline = self.rollout.progress_deadline();
        let mut control = self.control.clone();
        tokio::select! {
            result = condition::reached(self.runtime, &desired.unit, &condition, &patterns, Some(deadline)) => result.map_err(failed),
            _ = aborted(&mut control) => Err(Stop::Aborted),
        }
    }

    async fn smoke(&self, address: Option<String>) -> Result<(), Stop> {
        if self.rollout.smoke.is_empty() {
            return Ok(());
        }
        let Some(address) = address else {
            return Err(Stop::Failed(Evidence {
                reason: "no address to run the smoke checks against".to_owned(),
                ..Evidence::default()
            }));
        };
        for check in &self.rollout.smoke {
            if let Err(why) = smoke::check(&address, check).await {
                return Err(Stop::Failed(Evidence {
                    reason: format!("smoke check {} {} failed: {why}", check.method, check.path),
                    last_lines: self.runtime.last_lines(&self.new.unit),
                    ..Evidence::default()
                }));
            }
            note(
                self.journal,
                Some(self.service()),
                format!("smoke check {} {} passed", check.method, check.path),
            );
        }
        Ok(())
    }

    /// Measures until a window passes; breaches beyond the failure limit, and
    /// windows without data when they mean failure, stop the rollout.
    async fn analyse(&mut self, window: Duration) -> Result<(), Stop> {
        let Some(analysis) = self.rollout.analysis.clone() else {
            return self.pause(Some(window)).await;
        };
        let window = window.min(analysis.interval());
        loop {
            let mut control = self.control.clone();
            let measured = tokio::select! {
                measured = self.metrics.measure(self.service(), &self.new.unit.revision, window) => measured,
                _ = aborted(&mut control) => return Err(Stop::Aborted),
            };
            let measurement = measured.map_err(|e| {
                Stop::Failed(Evidence {
                    reason: format!("the metrics could not be read: {e}"),
                    ..Evidence::default()
                })
            })?;
            let verdict = judge(&analysis, &measurement);
            let thresholds = thresholds(&analysis);
            let evidence = |reason: String| Evidence {
                reason,
                measurement: Some(measurement.clone()),
                thresholds: thresholds.clone(),
                last_lines: self.runtime.last_lines(&self.new.unit),
            };
            match verdict {
                Verdict::Pass => {
                    (self.journal)(Entry {
                        at: now(),
                        service: Some(self.service().to_owned()),
                        what: "analysis passed".to_owned(),
                        evidence: Some(Evidence {
                            last_lines: Vec::new(),
                            ..evidence("within every threshold".to_owned())
                        }),
                    });
                    return Ok(());
                }
                Verdict::Breach(why) => {
                    self.breaches += 1;
                    let reason = format!("analysis breached: {}", why.join("; "));
                    if self.breaches > analysis.failure_limit {
                        return Err(Stop::Failed(evidence(reason)));
                    }
                    (self.journal)(Entry {
                        at: now(),
                        service: Some(self.service().to_owned()),
                        what: format!(
                            "{reason} (breach {} of {} tolerated)",
                            self.breaches, analysis.failure_limit
                        ),
                        evidence: Some(evidence(reason.clone())),
                    });
                }
                Verdict::Inconclusive(why) => {
                    let reason = format!("analysis inconclusive: {why}");
                    match analysis.no_data {
                        NoData::Fail => return Err(Stop::Failed(evidence(reason))),
                        NoData::Pause => {
                            note(
                                self.journal,
                                Some(self.service()),
                                format!("{reason}; paused until `berth promote` or `berth abort`"),
                            );
                            return self.pause(None).await;
                        }
                    }
                }
            }
        }
    }

    /// Waits `duration`, or until promoted; `None` waits for the promotion alone.
    async fn pause(&mut self, duration: Option<Duration>) -> Result<(), Stop> {
        let promoted_before = self.control.borrow().promotions;
        let mut control = self.control.clone();
        let promoted = async {
            control
                .wait_for(|c| c.abort || c.promotions > promoted_before)
                .await
                .map(|c| c.abort)
        };
        let sleep = async {
            match duration {
                Some(duration) => tokio::time::sleep(duration).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        tokio::select! {
            seen = promoted => match seen {
                Ok(true) => Err(Stop::Aborted),
                Ok(false) => {
                    note(self.journal, Some(self.service()), "promoted");
                    Ok(())
                }
                // Nobody can promote any more: a timed pause still ends.
                Err(_) => {
                    sleep.await;
                    Ok(())
                }
            },
            _ = &mut sleep => Ok(()),
        }
    }
}

async fn aborted(control: &mut watch::Receiver<Control>) {
    let seen = control.wait_for(|c| c.abort).await.map(|_| ());
    if seen.is_err() {
        std::future::pending::<()>().await;
    }
}

fn failed(failure: Failure) -> Stop {
    Stop::Failed(Evidence {
        reason: failure.message,
        last_lines: failure.last_lines,
        ..Evidence::default()
    })
}

fn thresholds(analysis: &berth_core::model::Analysis) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rate) = analysis.error_rate {
        out.push(format!("error rate ≤ {}%", rate.0));
    }
    if let Some(p95) = analysis.p95 {
        out.push(format!("p95 ≤ {p95}"));
    }
    out.push(format!("at least {} requests", analysis.min_requests()));
    out
}
