//! The result of a check: findings per service and the ecosystem's score.

use serde::Serialize;
use serde::ser::SerializeStruct;

use super::Rule;
use crate::model::Level;

/// What one rule says of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NotApplicable,
    Pass,
    Fail(String),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail {
        reason: String,
    },
    /// Failed, but the service is excused, for the reason it gives.
    Waived {
        reason: String,
        waiver: String,
    },
}

pub struct Finding {
    pub rule: &'static dyn Rule,
    pub level: Level,
    pub status: Status,
}

impl Finding {
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Fail { .. })
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Finding", 4)?;
        s.serialize_field("rule", self.rule.id())?;
        s.serialize_field("level", &self.level)?;
        s.serialize_field("result", &self.status)?;
        s.serialize_field("hint", self.rule.hint())?;
        s.end()
    }
}

#[derive(Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub findings: Vec<Finding>,
}

impl ServiceReport {
    /// Compliant: no rule of level error failed (waived failures do not count).
    pub fn compliant(&self) -> bool {
        !self
            .findings
            .iter()
            .any(|f| f.failed() && f.level == Level::Error)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.failed())
    }

    pub fn waived(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| matches!(f.status, Status::Waived { .. }))
    }
}

pub struct Report {
    pub ecosystem: String,
    pub environment: String,
    pub services: Vec<ServiceReport>,
}

impl Report {
    pub fn compliant(&self) -> usize {
        self.services.iter().filter(|s| s.compliant()).count()
    }

    pub fn passed(&self) -> bool {
        self.compliant() == self.services.len()
    }

    /// The score as the OpenPolicy team reports it: `24/25 services compliant (96%)`.
    pub fn score(&self) -> String {
        let total = self.services.len();
        let percent = (self.compliant() * 100 + total / 2)
            .checked_div(total)
            .unwrap_or(100);
        format!(
            "{}/{total} services compliant ({percent}%)",
            self.compliant()
        )
    }
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ServiceJson<'a> {
            name: &'a str,
            compliant: bool,
            findings: &'a [Finding],
        }
        let services: Vec<ServiceJson> = self
            .services
            .iter()
            .map(|s| ServiceJson {
                name: &s.name,
                compliant: s.compliant(),
                findings: &s.findings,
            })
            .collect();
        let mut s = serializer.serialize_struct("Report", 6)?;
        s.serialize_field("ecosystem", &self.ecosystem)?;
        s.serialize_field("environment", &self.environment)?;
        s.serialize_field("compliant", &self.compliant())?;
        s.serialize_field("total", &self.services.len())?;
        s.serialize_field("score", &self.score())?;
        s.serialize_field("services", &services)?;
        s.end()
    }
}
