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

const FILE: &str = "drills.json";

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

/// Drills the newest backup of `store`, and records it.
pub fn drill(state: &Path, store: &Store) -> Result<Drill, BackupError> {
    let manifest = chosen(state, store, None)?;
    manifest.verify()?;
    let dir = state.join("drills").join(store.service);
    let started = Instant::now();
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
    let mut all = drills(&store.folder(state));
    all.push(drill.clone());
    let text = serde_json::to_string_pretty(&all).expect("drills serialize");
    let file = store.folder(state).join(FILE);
    let next = file.with_extension("json.next");
    std::fs::write(&next, text)
        .and_then(|()| std::fs::rename(&next, &file))
        .map_err(|e| {
            BackupError::new(
                format!("cannot write {}: {e}", file.display()),
                "check the permissions of .berth/",
            )
        })?;
    Ok(drill)
}

/// The drills run on a store's backups, oldest first.
pub fn drills(folder: &Path) -> Vec<Drill> {
    std::fs::read_to_string(folder.join(FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}
