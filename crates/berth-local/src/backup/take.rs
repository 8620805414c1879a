//! Taking one backup of a running store.

use std::path::Path;
use std::time::SystemTime;

use super::census::census;
use super::manifest::{self, Manifest, backups};
use super::{BackupError, Store, shell};

/// Takes a backup of `store` into `state`'s backups, then keeps only the
/// newest `keep` of them.
pub fn take(
    state: &Path,
    store: &Store,
    revision: Option<&str>,
    keep: u32,
) -> Result<Manifest, BackupError> {
    reachable(store)?;
    let folder = store.folder(state);
    std::fs::create_dir_all(&folder).map_err(|e| cannot(&folder, e))?;
    remove_cut_short(&folder);
    let taken = SystemTime::now();
    let taken_at = humantime::format_rfc3339_seconds(taken).to_string();
    let id = free_id(&folder, &taken_at);
    let partial = folder.join(format!("{id}.partial"));
    let into = partial.display().to_string();
    // Counted while the dump runs: the tools work on one core each, and a
    // count of a large table takes a good part of a dump's time.
    let (dumped, census) = std::thread::scope(|scope| {
        let counting = scope.spawn(|| census(store, store.port, &store.tools_env));
        let dumped = shell::run(
            &(store.kind.dump)("127.0.0.1", store.port, &shell_quoted(&into)),
            &format!("the backup of `{}`", store.service),
            &store.tools_env,
        );
        (dumped, counting.join().expect("counting does not panic"))
    });
    dumped?;
    let census = census?;
    let files = manifest::entries(&partial).map_err(|e| cannot(&partial, e))?;
    let mut manifest = Manifest {
        id: id.clone(),
        environment: store.environment.to_owned(),
        service: store.service.to_owned(),
        kind: store.kind.kind.to_string(),
        revision: revision.map(str::to_owned),
        taken_at,
        files,
        census,
        folder: folder.join(&id),
    };
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    std::fs::write(partial.join(manifest::FILE), text).map_err(|e| cannot(&partial, e))?;
    std::fs::rename(&partial, &manifest.folder).map_err(|e| cannot(&partial, e))?;
    retain(&folder, keep);
    manifest.folder = folder.join(&id);
    Ok(manifest)
}

fn reachable(store: &Store) -> Result<(), BackupError> {
    std::net::TcpStream::connect(("127.0.0.1", store.port))
        .map(|_| ())
        .map_err(|e| {
            BackupError::new(
                format!(
                    "`{}` does not answer on port {}: {e}",
                    store.service, store.port
                ),
                format!(
                    "start it first: `berth up -e {} -d {}`",
                    store.environment, store.service
                ),
            )
        })
}

/// `2026-12-02T15:04:05Z` as `20261202-150405`, and another name if a backup
/// of the same second exists.
fn free_id(folder: &Path, taken_at: &str) -> String {
    let digits: String = taken_at.chars().filter(char::is_ascii_digit).collect();
    let base = format!("{}-{}", &digits[..8], &digits[8..14]);
    let mut id = base.clone();
    let mut n = 2;
    while folder.join(&id).exists() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// What a backup killed part-way left: never a backup.
fn remove_cut_short(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The newest `keep` backups stay; older ones go.
fn retain(folder: &Path, keep: u32) {
    let all = backups(folder);
    let surplus = all.len().saturating_sub(keep.max(1) as usize);
    for old in &all[..surplus] {
        let _ = std::fs::remove_dir_all(&old.folder);
    }
}

fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn cannot(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::new(
        format!("cannot write {}: {e}", path.display()),
        "check the permissions and free space of .berth/ beside berth.yaml",
    )
}
