//! A restore drill: the newest backup restored into a store of its own,
//! checked, and timed — the recovery time achieved (RTO) and the age of the
//! newest point restored (RPO), kept beside the backups.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use berth_core::model::Restore;
use serde::{Deserialize, Serialize};

use super::restore::{Seeds, checked, chosen, put_back};
use super::throwaway::Throwaway;
use super::{BackupError, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drill {
    pub backup: String,
    /// When the drill ran, RFC 3339.
    pub at: String,
    /// How long the restore took until the data was checked, in seconds.
    pub rto_seconds: f64,
    /// How old the newest restored point was, in seconds.
    pub rpo_seconds: f64,
}

/// Drills the newest backup of `store`, and records it. The recovery time
/// counts from before the backup is fetched from where it is kept.
pub fn drill(state: &Path, store: &Store) -> Result<Drill, BackupError> {
    let manifest = chosen(store, None)?;
    let dir = state.join("drills").join(store.service);
    let started = Instant::now();
    let _fetched = store.shelf.fetch(&manifest)?;
    manifest.verify()?;
    match store.kind.restore {
        Restore::Command(_) => {
            let empty = Throwaway::start(store, &dir, |_| Ok(()))?;
            // A store of its own lets anyone on this machine in.
            put_back(state, store, &manifest, empty.port, &[], &Seeds::Here)?;
            checked(store, &manifest, empty.port, &[])?;
        }
        Restore::Replica { file, .. } => {
            let source = manifest.folder.join(file);
            let loaded = Throwaway::start(store, &dir, |dir| {
                std::fs::copy(&source, dir.join(file)).map(|_| ())
            })?;
            checked(store, &manifest, loaded.port, &[])?;
        }
    }
    let took = started.elapsed();
    let now = SystemTime::now();
    let drill = Drill {
        backup: manifest.id.clone(),
        at: humantime::format_rfc3339_seconds(now).to_string(),
        rto_seconds: took.as_secs_f64(),
        rpo_seconds: now
            .duration_since(manifest.taken())
            .unwrap_or(Duration::ZERO)
            .as_secs_f64(),
    };
    store.shelf.record(&drill)?;
    Ok(drill)
}
