//! Backups of data stores, restores and restore drills, taken with each kind's
//! own client tools against the running store on this machine's loopback,
//! where the local and Docker runtimes serve a data store and where a
//! port-forward reaches one on a cluster: the same commands the Kubernetes
//! CronJobs run. A backup is a folder
//! `.berth/backups/ENV/SERVICE/ID/` of the tools' files and a manifest — each
//! file's size and SHA-256, the ecosystem revision, what the store held — that
//! is written last, into a folder renamed into place only when whole: a
//! backup cut short is never listed as one. Where the environment names an
//! object store, the whole backup then goes there ([`Shelf`]).

mod bucket;
mod census;
mod drill;
mod gate;
mod manifest;
mod migrate;
mod restore;
mod shelf;
mod shell;
mod take;
mod throwaway;

pub use drill::{Drill, drill};
pub use gate::{Stale, stale_before};
pub use manifest::Manifest;
pub use restore::{Seed, Seeds, restore};
pub use shelf::{Shelf, Shelves};
pub use take::{Retention, take};

use std::path::{Path, PathBuf};

use berth_core::model::DataStore;

/// One data store of an environment, as a backup sees it.
pub struct Store<'a> {
    pub environment: &'a str,
    pub service: &'a str,
    pub kind: &'static DataStore,
    /// Where it answers on 127.0.0.1.
    pub port: u16,
    /// What its client tools need to be let in (`PGPASSWORD`, say); never
    /// written anywhere.
    pub tools_env: Vec<(String, String)>,
    /// Where its backups are kept.
    pub shelf: Shelf,
}

impl Store<'_> {
    /// `.berth/backups/ENV/SERVICE` under `state`: where its backups are
    /// taken, and kept unless the environment names an object store.
    pub fn folder(&self, state: &Path) -> PathBuf {
        folder(state, self.environment, self.service)
    }

    /// Whether it answers on its port, or why not.
    pub fn answers(&self) -> std::io::Result<()> {
        std::net::TcpStream::connect(("127.0.0.1", self.port)).map(|_| ())
    }
}

/// `.berth/backups/ENV/SERVICE` under `state`: where a store's backups are.
pub fn folder(state: &Path, environment: &str, service: &str) -> PathBuf {
    state.join("backups").join(environment).join(service)
}

/// What went wrong, and what to do.
#[derive(Clone, Debug)]
pub struct BackupError {
    pub message: String,
    pub help: String,
}

impl BackupError {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> BackupError {
        BackupError {
            message: message.into(),
            help: help.into(),
        }
    }
}
