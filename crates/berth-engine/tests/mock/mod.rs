//! A mock runtime, for the engine's tests: it starts nothing, records every call,
//! and reports an applied unit started and ready at once (a job completed),
//! unless its `service@version` is told never to be ready.
// Each test file that includes this uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use berth_core::model::Kind;
use berth_core::revision::Revision;
use berth_engine::{
    BoxFuture, Desired, Failure, Runtime, State, Status, Traffic, Unit, UnitStatus,
};
use tokio::sync::watch;

#[derive(Default)]
pub struct MockRuntime {
    calls: Mutex<Vec<String>>,
    units: Mutex<HashMap<Unit, watch::Sender<UnitStatus>>>,
    pub never_ready: Mutex<Vec<String>>,
}

impl MockRuntime {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn forget_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    /// The services of the calls that begin with `verb`, in order.
    pub fn services(&self, verb: &str) -> Vec<String> {
        self.calls()
            .iter()
            .filter_map(|c| c.strip_prefix(&format!("{verb} ")))
            .map(|rest| rest.split('@').next().unwrap().to_owned())
            .collect()
    }

    fn call(&self, text: String) {
        self.calls.lock().unwrap().push(text);
    }

    fn sender(&self, unit: &Unit) -> watch::Sender<UnitStatus> {
        let mut units = self.units.lock().unwrap();
        units
            .entry(unit.clone())
            .or_insert_with(|| watch::channel(UnitStatus::default()).0)
            .clone()
    }
}

impl Runtime for MockRuntime {
    fn apply<'a>(
        &'a self,
        desired: &'a Desired,
        replicas: u32,
    ) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            let unit = &desired.unit;
            self.call(format!("apply {} ×{replicas}", name(unit)));
            let ready = !self.never_ready.lock().unwrap().contains(&name(unit));
            let job = desired.ecosystem.services[&unit.service].kind == Kind::Job;
            let instances = (0..replicas)
                .map(|i| {
                    let mut status = Status::new(&format!("{}.{i}", unit.service), 1);
                    status.state = if job {
                        State::Completed
                    } else {
                        State::Running
                    };
                    status.started = true;
                    status.ready = ready;
                    status
                })
                .collect();
            self.sender(unit).send_replace(UnitStatus { instances });
            Ok(())
        })
    }

    fn remove<'a>(&'a self, unit: &'a Unit) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.call(format!("remove {}", name(unit)));
            self.units.lock().unwrap().remove(unit);
        })
    }

    fn units(&self) -> Vec<(Unit, UnitStatus)> {
        let units = self.units.lock().unwrap();
        units
            .iter()
            .filter(|(_, s)| !s.borrow().instances.is_empty())
            .map(|(u, s)| (u.clone(), s.borrow().clone()))
            .collect()
    }

    /// Anything may be waited for before it is applied, as dependencies are.
    fn watch(&self, unit: &Unit) -> Option<watch::Receiver<UnitStatus>> {
        Some(self.sender(unit).subscribe())
    }

    fn last_lines(&self, _: &Unit) -> Vec<String> {
        vec!["the new version's last words".to_owned()]
    }

    fn set_weights(&self, service: &str, weights: &[(Revision, u32)]) {
        let text: Vec<String> = weights
            .iter()
            .map(|(r, w)| format!("{}={w}", version_of(r)))
            .collect();
        self.call(format!("weights {service} [{}]", text.join(" ")));
    }

    fn traffic(&self, _: &str, _: &Revision) -> Option<Traffic> {
        None
    }

    fn direct_address(&self, _: &Unit) -> Option<String> {
        None
    }

    fn service_address(&self, _: &str) -> Option<String> {
        None
    }
}

/// Revisions are hashes; the tests speak of versions.
static VERSIONS: Mutex<Vec<(Revision, String)>> = Mutex::new(Vec::new());

/// Names `revision` `version` in the calls.
pub fn remember(revision: &Revision, version: String) {
    VERSIONS.lock().unwrap().push((revision.clone(), version));
}

fn version_of(revision: &Revision) -> String {
    VERSIONS
        .lock()
        .unwrap()
        .iter()
        .find(|(r, _)| r == revision)
        .map_or_else(|| revision.to_string(), |(_, v)| v.clone())
}

fn name(unit: &Unit) -> String {
    format!("{}@{}", unit.service, version_of(&unit.revision))
}
