//! A backup's manifest: what it is of, each file's size and SHA-256, and what
//! the store held, so that a restore can refuse a damaged file and check that
//! it gave everything back.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BackupError;
use super::census::Census;

pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup's folder name: when it was taken, `YYYYMMDD-HHMMSS` in UTC.
    pub id: String,
    pub environment: String,
    pub service: String,
    pub kind: String,
    /// The ecosystem revision the environment ran when it was taken.
    pub revision: Option<String>,
    /// When it was taken, RFC 3339; the newest point it can restore to.
    pub taken_at: String,
    pub files: Vec<Entry>,
    pub census: Census,
    #[serde(skip)]
    pub folder: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// The newest point the backup restores to.
    pub fn taken(&self) -> std::time::SystemTime {
        humantime::parse_rfc3339(&self.taken_at).unwrap_or(std::time::UNIX_EPOCH)
    }

    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Each file as the manifest recorded it, or the first that is not.
    pub fn verify(&self) -> Result<(), BackupError> {
        for entry in &self.files {
            let path = self.folder.join(&entry.name);
            let (bytes, sha256) = digest(&path).map_err(|e| {
                BackupError::new(
                    format!(
                        "backup {} of `{}` lacks {}: {e}",
                        self.id, self.service, entry.name
                    ),
                    "take a new backup, or restore another with `--from ID` (`berth backup list`)",
                )
            })?;
            if bytes != entry.bytes || sha256 != entry.sha256 {
                return Err(BackupError::new(
                    format!(
                        "backup {} of `{}` is damaged: {} is not the file its manifest recorded (SHA-256 differs)",
                        self.id, self.service, entry.name
                    ),
                    "nothing was restored; restore another with `--from ID` (`berth backup list`)",
                ));
            }
        }
        Ok(())
    }
}

/// Each file of `folder`, by name, with its size and SHA-256.
pub fn entries(folder: &Path) -> std::io::Result<Vec<Entry>> {
    let mut names: Vec<String> = std::fs::read_dir(folder)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != FILE)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let (bytes, sha256) = digest(&folder.join(&name))?;
            Ok(Entry {
                name,
                bytes,
                sha256,
            })
        })
        .collect()
}

fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut bytes = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        hasher.update(&buffer[..read]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, hex))
}

/// The whole backups of a store's folder, oldest first; a folder without a
/// manifest (cut short) is none.
pub fn backups(folder: &Path) -> Vec<Manifest> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<Manifest> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| !entry.file_name().to_string_lossy().ends_with(".partial"))
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join(FILE)).ok()?;
            let mut manifest: Manifest = serde_json::from_str(&text).ok()?;
            manifest.folder = entry.path();
            Some(manifest)
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}
