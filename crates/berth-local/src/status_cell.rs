//! One instance's place in its unit's status: the supervisor and the log reader
//! write their instance's part, and whoever watches the unit sees it change.

use berth_engine::{Status, UnitStatus};
use tokio::sync::watch;

#[derive(Clone)]
pub struct StatusCell {
    unit: watch::Sender<UnitStatus>,
    label: String,
}

impl StatusCell {
    pub fn new(unit: watch::Sender<UnitStatus>, label: &str) -> Self {
        StatusCell {
            unit,
            label: label.to_owned(),
        }
    }

    /// A cell of its own, watched by nobody: for preparation commands.
    pub fn detached(label: &str) -> Self {
        let (unit, _) = watch::channel(UnitStatus {
            instances: vec![Status::new(label, 0)],
        });
        Self::new(unit, label)
    }

    pub fn send_modify(&self, change: impl FnOnce(&mut Status)) {
        self.unit.send_modify(|unit| {
            if let Some(status) = unit.instances.iter_mut().find(|s| s.label == self.label) {
                change(status);
            }
        });
    }

    /// A copy of this instance's status now.
    pub fn get(&self) -> Status {
        self.unit
            .borrow()
            .instances
            .iter()
            .find(|s| s.label == self.label)
            .cloned()
            .unwrap_or_else(|| Status::new(&self.label, 0))
    }
}
