//! `berth check`: the ecosystem's standards and best practices, one rule per module.
//!
//! A rule looks at one service in one environment and passes, fails with a reason,
//! or does not apply. Adding a rule touches its module, the registry in
//! `rules/mod.rs`, and its fixture under `tests/checks/`.

mod report;
mod rules;

pub use report::{Finding, Outcome, Report, ServiceReport, Status};
pub use rules::{RULES, looks_secret};

use crate::model::{Ecosystem, Level, Service};

/// One standards rule.
pub trait Rule: Sync {
    /// Stable identifier, used in `waive:` and `standards.checks`.
    fn id(&self) -> &'static str;
    fn level(&self) -> Level;
    /// What the rule asks for, in one line.
    fn description(&self) -> &'static str;
    /// How to fix a failure.
    fn hint(&self) -> &'static str;
    fn check(&self, service: &Subject) -> Outcome;
}

/// The service a rule looks at, with the ecosystem around it.
pub struct Subject<'a> {
    pub name: &'a str,
    pub service: &'a Service,
    pub ecosystem: &'a Ecosystem,
}

impl Subject<'_> {
    pub fn production(&self) -> bool {
        self.ecosystem.environment.production
    }
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.id() == id)
}

/// Runs every rule on every service the environment deploys.
pub fn check(ecosystem: &Ecosystem) -> Report {
    let services = ecosystem
        .services
        .iter()
        .filter(|(name, _)| !ecosystem.is_external(name))
        .map(|(name, service)| {
            let subject = Subject {
                name,
                service,
                ecosystem,
            };
            let findings = RULES
                .iter()
                .filter_map(|rule| finding(*rule, &subject))
                .collect();
            ServiceReport {
                name: name.clone(),
                findings,
            }
        })
        .collect();
    Report {
        ecosystem: ecosystem.name.clone(),
        environment: ecosystem.environment_name.clone(),
        services,
    }
}

fn finding(rule: &'static dyn Rule, subject: &Subject) -> Option<Finding> {
    let level = subject
        .ecosystem
        .standards
        .checks
        .get(rule.id())
        .copied()
        .unwrap_or(rule.level());
    if level == Level::Off {
        return None;
    }
    let status = match rule.check(subject) {
        Outcome::NotApplicable => return None,
        Outcome::Pass => Status::Pass,
        Outcome::Fail(reason) => match subject.service.waive.get(rule.id()) {
            Some(waiver) => Status::Waived {
                reason,
                waiver: waiver.clone(),
            },
            None => Status::Fail { reason },
        },
    };
    Some(Finding {
        rule,
        level,
        status,
    })
}
