//! Taking one backup of a running store.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use berth_core::model::CENSUS_FILE;

use super::census::{Census, census, parse};
use super::manifest::{self, Manifest};
use super::shelf::Shelf;
use super::{BackupError, Store, shell};

/// Which backups stay when a new one is taken: at most the newest `keep`,
/// and none older than `keep_for`, but always the newest.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub keep: u32,
    pub keep_for: Option<Duration>,
}

impl Retention {
    /// As berth.yaml's `backup:` says, or the newest seven.
    pub fn of(backup: Option<&berth_core::model::Backup>) -> Retention {
        Retention {
            keep: backup.map_or(7, |b| b.retention),
            keep_for: backup.and_then(|b| b.keep_for).map(|d| d.0),
        }
    }
}

/// Takes a backup of `store` into `state`'s backups, then removes those
/// `retention` lets go; `progress` is told the bytes written so far, a few
/// times a second while the dump runs.
pub fn take(
    state: &Path,
    store: &Store,
    revision: Option<&str>,
    retention: Retention,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Manifest, BackupError> {
    reachable(store)?;
    let folder = store.folder(state);
    std::fs::create_dir_all(&folder).map_err(|e| cannot(&folder, e))?;
    // Held until the backup is whole: a `.partial` found then is one cut short.
    let _alone = alone(state, store)?;
    remove_cut_short(&folder);
    let taken = SystemTime::now();
    let taken_at = humantime::format_rfc3339_seconds(taken).to_string();
    let id = free_id(&folder, &taken_at);
    let partial = folder.join(format!("{id}.partial"));
    let into = partial.display().to_string();
    // Counted while the dump runs (by the dump itself, where it counts in
    // its own snapshot): the tools work on one core each, and a count of a
    // large table takes a good part of a dump's time.
    let dumping = AtomicBool::new(true);
    let (dumped, census) = std::thread::scope(|scope| {
        let counting = (!store.kind.census_in_dump)
            .then(|| scope.spawn(|| census(store, store.port, &store.tools_env)));
        scope.spawn(|| {
            while dumping.load(Ordering::Relaxed) {
                std::thread::sleep(PROGRESS_EVERY);
                progress(written(&partial));
            }
        });
        let dumped = shell::run(
            &(store.kind.dump)("127.0.0.1", store.port, &shell_quoted(&into)),
            &format!("the backup of `{}`", store.service),
            &store.tools_env,
        );
        dumping.store(false, Ordering::Relaxed);
        let census = counting.map(|c| c.join().expect("counting does not panic"));
        (dumped, census)
    });
    dumped?;
    let census = match census {
        Some(counted) => counted?,
        None => counted_by_dump(&partial)?,
    };
    let files = manifest::entries(&partial).map_err(|e| cannot(&partial, e))?;
    let manifest = Manifest {
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
    store.shelf.keep(&manifest)?;
    retain(&store.shelf, retention, taken)?;
    Ok(manifest)
}

/// The census a dump wrote into its folder, taken out of it.
fn counted_by_dump(partial: &Path) -> Result<Census, BackupError> {
    let file = partial.join(CENSUS_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| cannot(&file, e))?;
    std::fs::remove_file(&file).map_err(|e| cannot(&file, e))?;
    Ok(parse(&text))
}

const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Bytes of the files in `folder` so far.
fn written(folder: &Path) -> u64 {
    std::fs::read_dir(folder).map_or(0, |entries| {
        entries
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .filter(|metadata| metadata.is_file())
            .map(|metadata| metadata.len())
            .sum()
    })
}

fn reachable(store: &Store) -> Result<(), BackupError> {
    store.answers().map_err(|e| {
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

/// The store's backups to this one alone, while it is held: another
/// `berth backup` of the store is refused, so that neither takes the other's
/// folder for one cut short or picks the same name. The lock goes with the
/// process that holds it, however it ends; it is kept in `.berth/locks/`,
/// beside and not among the backups.
fn alone(state: &Path, store: &Store) -> Result<std::fs::File, BackupError> {
    let locks = state.join("locks");
    std::fs::create_dir_all(&locks).map_err(|e| cannot(&locks, e))?;
    let path = locks.join(format!(
        "backup.{}.{}.lock",
        store.environment, store.service
    ));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| cannot(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::new(
            format!(
                "another backup of `{}` in environment `{}` is being taken",
                store.service, store.environment
            ),
            "wait until it is done, then take this one",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(cannot(&path, e)),
    }
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

/// Removes the backups `retention` lets go, as of `now`.
fn retain(shelf: &Shelf, retention: Retention, now: SystemTime) -> Result<(), BackupError> {
    for gone in let_go(&shelf.backups()?, retention, now) {
        shelf.remove(gone)?;
    }
    Ok(())
}

/// Of `all`, oldest first, those beyond the newest `keep` or older than
/// `keep_for`; never the newest.
fn let_go(all: &[Manifest], retention: Retention, now: SystemTime) -> Vec<&Manifest> {
    let surplus = all.len().saturating_sub(retention.keep.max(1) as usize);
    let newest = all.len().saturating_sub(1);
    all.iter()
        .enumerate()
        .filter(|(at, backup)| {
            *at < newest
                && (*at < surplus
                    || retention.keep_for.is_some_and(|keep_for| {
                        now.duration_since(backup.taken()).unwrap_or_default() > keep_for
                    }))
        })
        .map(|(_, backup)| backup)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Backups taken `ages` minutes before `now`, oldest first.
    fn taken(now: SystemTime, ages: &[u64]) -> Vec<Manifest> {
        ages.iter()
            .map(|minutes| {
                let at = now - Duration::from_secs(minutes * 60);
                Manifest {
                    id: format!("{minutes}m"),
                    environment: "local".into(),
                    service: "db".into(),
                    kind: "postgres".into(),
                    revision: None,
                    taken_at: humantime::format_rfc3339_seconds(at).to_string(),
                    files: Vec::new(),
                    census: Default::default(),
                    folder: Default::default(),
                }
            })
            .collect()
    }

    fn gone(ages: &[u64], keep: u32, keep_for_minutes: Option<u64>) -> Vec<String> {
        let now = SystemTime::now();
        let all = taken(now, ages);
        let retention = Retention {
            keep,
            keep_for: keep_for_minutes.map(|m| Duration::from_secs(m * 60)),
        };
        let_go(&all, retention, now)
            .into_iter()
            .map(|m| m.id.clone())
            .collect()
    }

    #[test]
    fn a_count_keeps_the_newest() {
        assert_eq!(gone(&[50, 40, 30, 20, 10], 3, None), ["50m", "40m"]);
        assert_eq!(gone(&[20, 10], 3, None), Vec::<String>::new());
        assert_eq!(gone(&[20, 10], 0, None), ["20m"], "one always stays");
    }

    #[test]
    fn an_age_lets_old_ones_go_however_few() {
        assert_eq!(
            gone(&[180, 120, 30, 20, 10, 0], 3, Some(60)),
            ["180m", "120m", "30m"]
        );
        assert_eq!(gone(&[180, 120], 7, Some(60)), ["180m"], "the newest stays");
    }
}
