//! Where a store's backups are kept: `.berth/backups/ENV/SERVICE/` on this
//! machine, or, where the environment names one, an S3-compatible bucket
//! under `PREFIX/ENV/SERVICE/`, which every engineer and CI job sees. Either
//! way a backup is whole when its manifest is there, and the manifest goes
//! last, after every file it names; it goes first when a backup is removed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::model::ObjectStore;

use super::bucket::Bucket;
use super::drill::Drill;
use super::manifest::{self, Manifest};
use super::{BackupError, folder};

const DRILLS: &str = "drills.json";

/// The shelves of one environment's stores.
pub struct Shelves {
    state: PathBuf,
    environment: String,
    /// The bucket and its prefix, or why it cannot be used: said only to
    /// what needs it.
    bucket: Option<(Result<Arc<Bucket>, BackupError>, String)>,
}

impl Shelves {
    /// The environment's shelves: its object store if it names one, else
    /// `.berth/backups/` under `state`.
    pub fn open(state: &Path, environment: &str, store: Option<&ObjectStore>) -> Shelves {
        let bucket = store.map(|store| {
            let bucket = Bucket::open(store, environment).map(Arc::new);
            (bucket, store.to.prefix.clone())
        });
        Shelves {
            state: state.to_owned(),
            environment: environment.to_owned(),
            bucket,
        }
    }

    /// The shelf of `service`'s backups.
    pub fn of(&self, service: &str) -> Result<Shelf, BackupError> {
        let here = folder(&self.state, &self.environment, service);
        match &self.bucket {
            None => Ok(Shelf::Folder(here)),
            Some((Err(e), _)) => Err(e.clone()),
            Some((Ok(bucket), prefix)) => {
                let within = [prefix.as_str(), &self.environment, service]
                    .iter()
                    .filter(|part| !part.is_empty())
                    .map(|part| format!("{part}/"))
                    .collect();
                Ok(Shelf::Bucket {
                    bucket: Arc::clone(bucket),
                    prefix: within,
                    fetched: self
                        .state
                        .join("fetched")
                        .join(&self.environment)
                        .join(service),
                })
            }
        }
    }
}

pub enum Shelf {
    /// The store's folder of backups on this machine.
    Folder(PathBuf),
    Bucket {
        bucket: Arc<Bucket>,
        /// `PREFIX/ENV/SERVICE/`: the keys of the store's backups start with it.
        prefix: String,
        /// Where a backup is fetched to before it is restored.
        fetched: PathBuf,
    },
}

impl Shelf {
    /// Where backup `id` is, for people: a folder under `project`, or `s3://…`.
    pub fn place(&self, id: &str, project: &Path) -> String {
        match self {
            Shelf::Folder(folder) => {
                let at = folder.join(id);
                at.strip_prefix(project)
                    .unwrap_or(&at)
                    .display()
                    .to_string()
            }
            Shelf::Bucket { bucket, prefix, .. } => bucket.shown(&format!("{prefix}{id}")),
        }
    }

    /// The whole backups on the shelf, oldest first. Each one's `folder` is
    /// where its files are, or will be once fetched.
    pub fn backups(&self) -> Result<Vec<Manifest>, BackupError> {
        let (bucket, prefix, fetched) = match self {
            Shelf::Folder(folder) => return Ok(manifest::backups(folder)),
            Shelf::Bucket {
                bucket,
                prefix,
                fetched,
            } => (bucket, prefix, fetched),
        };
        let mut found = Vec::new();
        for key in bucket.list(prefix)? {
            let Some(id) = key
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(&format!("/{}", manifest::FILE)))
                .filter(|id| !id.contains('/'))
            else {
                continue;
            };
            let Some(text) = bucket.get_bytes(&key)? else {
                continue;
            };
            // What is not a manifest of berth's is nobody's backup.
            if let Ok(mut manifest) = serde_json::from_slice::<Manifest>(&text) {
                manifest.folder = fetched.join(id);
                found.push(manifest);
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    /// Puts the whole backup in `manifest.folder` on the shelf: in a bucket,
    /// its files, then its manifest, and the folder here goes.
    pub fn keep(&self, manifest: &Manifest) -> Result<(), BackupError> {
        let Shelf::Bucket { bucket, prefix, .. } = self else {
            return Ok(());
        };
        let key = |name: &str| format!("{prefix}{}/{name}", manifest.id);
        let mut sent: Vec<String> = Vec::new();
        let names = manifest.files.iter().map(|f| f.name.as_str());
        for name in names.chain([manifest::FILE]) {
            if let Err(e) = bucket.put(&key(name), &manifest.folder.join(name)) {
                for key in sent.iter().rev() {
                    let _ = bucket.delete(key);
                }
                return Err(BackupError::new(
                    e.message,
                    format!(
                        "{}; the backup is kept whole in {} meanwhile",
                        e.help,
                        manifest.folder.display()
                    ),
                ));
            }
            sent.push(key(name));
        }
        let _ = std::fs::remove_dir_all(&manifest.folder);
        Ok(())
    }

    /// Brings `manifest`'s files here, into `manifest.folder`, if they are
    /// elsewhere; what was fetched goes when the answer is dropped.
    pub fn fetch(&self, manifest: &Manifest) -> Result<Option<Fetched>, BackupError> {
        let Shelf::Bucket { bucket, prefix, .. } = self else {
            return Ok(None);
        };
        let into = &manifest.folder;
        let _ = std::fs::remove_dir_all(into);
        let fetched = Fetched(into.clone());
        std::fs::create_dir_all(into).map_err(|e| {
            BackupError::new(
                format!("cannot write {}: {e}", into.display()),
                "check the permissions and free space of .berth/ beside berth.yaml",
            )
        })?;
        for entry in &manifest.files {
            bucket.get(
                &format!("{prefix}{}/{}", manifest.id, entry.name),
                &into.join(&entry.name),
            )?;
        }
        Ok(Some(fetched))
    }

    /// Removes a backup: its manifest first, so that what may be left is
    /// never taken for a backup.
    pub fn remove(&self, manifest: &Manifest) -> Result<(), BackupError> {
        let Shelf::Bucket { bucket, prefix, .. } = self else {
            let _ = std::fs::remove_dir_all(&manifest.folder);
            return Ok(());
        };
        let key = |name: &str| format!("{prefix}{}/{name}", manifest.id);
        bucket.delete(&key(manifest::FILE))?;
        for entry in &manifest.files {
            bucket.delete(&key(&entry.name))?;
        }
        Ok(())
    }

    /// The drills run on the store's backups, oldest first.
    pub fn drills(&self) -> Result<Vec<Drill>, BackupError> {
        let text = match self {
            Shelf::Folder(folder) => std::fs::read(folder.join(DRILLS)).ok(),
            Shelf::Bucket { bucket, prefix, .. } => {
                bucket.get_bytes(&format!("{prefix}{DRILLS}"))?
            }
        };
        Ok(text
            .and_then(|text| serde_json::from_slice(&text).ok())
            .unwrap_or_default())
    }

    /// Adds `drill` to the store's drills.
    pub fn record(&self, drill: &Drill) -> Result<(), BackupError> {
        let mut all = self.drills()?;
        all.push(drill.clone());
        let text = serde_json::to_vec_pretty(&all).expect("drills serialize");
        match self {
            Shelf::Folder(folder) => {
                let file = folder.join(DRILLS);
                let next = file.with_extension("json.next");
                std::fs::write(&next, text)
                    .and_then(|()| std::fs::rename(&next, &file))
                    .map_err(|e| {
                        BackupError::new(
                            format!("cannot write {}: {e}", file.display()),
                            "check the permissions of .berth/",
                        )
                    })
            }
            Shelf::Bucket { bucket, prefix, .. } => {
                bucket.put_bytes(&format!("{prefix}{DRILLS}"), text)
            }
        }
    }
}

/// A backup's files fetched from a bucket, removed when dropped.
pub struct Fetched(PathBuf);

impl Drop for Fetched {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
