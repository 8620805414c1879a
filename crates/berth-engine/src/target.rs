//! What a deployment aims at: an ecosystem in one environment, and the revision
//! of each service it runs.

use std::sync::Arc;

use berth_core::Ecosystem;
use berth_core::revision::{self, Revision, Workload};
use indexmap::IndexMap;
use regex::Regex;

use crate::condition;
use crate::runtime::{Desired, Unit};

#[derive(Clone, Debug)]
pub struct Target {
    pub ecosystem: Arc<Ecosystem>,
    pub workloads: IndexMap<String, Workload>,
    pub revisions: IndexMap<String, Revision>,
    pub revision: Revision,
}

impl Target {
    pub fn of(ecosystem: Arc<Ecosystem>) -> Target {
        let workloads = revision::workloads(&ecosystem);
        let revisions: IndexMap<String, Revision> = workloads
            .iter()
            .map(|(name, workload)| (name.clone(), workload.revision()))
            .collect();
        let revision =
            revision::ecosystem_revision(revisions.iter().map(|(name, r)| (name.as_str(), r)));
        Target {
            ecosystem,
            workloads,
            revisions,
            revision,
        }
    }

    pub fn unit(&self, service: &str) -> Unit {
        Unit {
            service: service.to_owned(),
            revision: self.revisions[service].clone(),
        }
    }

    pub fn desired(&self, service: &str) -> Desired {
        Desired {
            unit: self.unit(service),
            ecosystem: self.ecosystem.clone(),
        }
    }

    pub fn replicas(&self, service: &str) -> u32 {
        self.ecosystem.services[service].replicas()
    }

    pub fn patterns(&self, service: &str) -> Vec<Regex> {
        condition::log_patterns(&self.ecosystem, service)
    }
}

/// What runs: each service's unit as it was applied, with its instance count.
#[derive(Clone, Debug, Default)]
pub struct Deployed {
    pub services: IndexMap<String, DeployedService>,
}

#[derive(Clone, Debug)]
pub struct DeployedService {
    pub desired: Desired,
    pub replicas: u32,
    pub workload: Workload,
}

impl Deployed {
    /// The ecosystem revision of what runs; `None` before anything does.
    pub fn revision(&self) -> Option<Revision> {
        (!self.services.is_empty()).then(|| {
            revision::ecosystem_revision(
                self.services
                    .iter()
                    .map(|(name, s)| (name.as_str(), &s.desired.unit.revision)),
            )
        })
    }

    /// Takes `services` of `target` as running now; services it no longer has go.
    pub fn take(&mut self, target: &Target, services: &[String]) {
        for service in services {
            match target.revisions.get(service) {
                Some(_) => {
                    self.services.insert(
                        service.clone(),
                        DeployedService {
                            desired: target.desired(service),
                            replicas: target.replicas(service),
                            workload: target.workloads[service].clone(),
                        },
                    );
                }
                None => {
                    self.services.shift_remove(service);
                }
            }
        }
    }
}

impl Target {
    /// Everything in the target, as if it ran.
    pub fn deployed(&self) -> Deployed {
        let mut deployed = Deployed::default();
        let all: Vec<String> = self.revisions.keys().cloned().collect();
        deployed.take(self, &all);
        deployed
    }
}
