//! A deployment's timeline as it happens: each line shown at once and kept,
//! and written to the cluster's history now and then and at the end, so a
//! killed berth loses at most a few seconds of it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_engine::history::{Entry, Evidence, now};

use crate::deploy::{Said, Show};
use crate::environment::Environment;

/// The lines said so far and not yet written, and when the last write was.
pub struct Timeline<'a> {
    pub show: Show<'a>,
    pub pending: Mutex<Vec<Entry>>,
    pub written: Mutex<Instant>,
}

impl Timeline<'_> {
    pub fn say(&self, service: Option<&str>, what: impl Into<String>, evidence: Option<Evidence>) {
        let entry = Entry {
            at: now(),
            service: service.map(str::to_owned),
            what: what.into(),
            evidence,
        };
        (self.show)(Said::Entry(&entry));
        self.pending.lock().expect("timeline").push(entry);
    }

    /// Writes what was said to the cluster when the last write is a while ago:
    /// a killed berth loses at most that much of its timeline, and a quick
    /// deployment writes its timeline once, at the end.
    pub async fn flush_if_due(&self, environment: &Environment, number: u64) {
        if self.written.lock().expect("timeline").elapsed() < FLUSH_EVERY {
            return;
        }
        let entries: Vec<Entry> = std::mem::take(&mut *self.pending.lock().expect("timeline"));
        if !entries.is_empty()
            && environment
                .history
                .append_entries(number, &entries)
                .await
                .is_ok()
        {
            *self.written.lock().expect("timeline") = Instant::now();
        }
    }
}

/// How often a long deployment writes its timeline to the cluster.
const FLUSH_EVERY: Duration = Duration::from_secs(10);
