//! A backup put back into the running store, checked against its manifest.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_core::model::Restore;

use super::census::{census, differences};
use super::manifest::Manifest;
use super::migrate::migrate;
use super::throwaway::Throwaway;
use super::{BackupError, Store, shell};

/// Where the seed of a replica restore runs: the instance that loads the
/// backup's file, which the running store then copies as its replica.
pub enum Seeds<'a> {
    /// A throwaway process on this machine, which the store reaches on loopback.
    Here,
    /// Started by the caller from the backup's folder, where the store can
    /// reach it: a container beside a store in a container.
    Beside(&'a dyn Fn(&Path) -> Result<Seed, BackupError>),
    /// A throwaway process on this machine that hands its keys to the store
    /// itself, for a store that cannot reach this machine: one on a cluster,
    /// reached through a port-forward.
    Pushing,
}

/// A seed somewhere else: where the store reaches it, and how it is ended.
pub struct Seed {
    pub host: String,
    pub port: u16,
    pub end: Box<dyn FnOnce()>,
}

/// Restores backup `from` (the newest without one) into the running `store`;
/// the backup restored and how long it took.
pub fn restore(
    state: &Path,
    store: &Store,
    from: Option<&str>,
    seeds: &Seeds,
) -> Result<(Manifest, Duration), BackupError> {
    let manifest = chosen(store, from)?;
    let started = Instant::now();
    let _fetched = store.shelf.fetch(&manifest)?;
    manifest.verify()?;
    put_back(state, store, &manifest, store.port, &store.tools_env, seeds)?;
    checked(store, &manifest, store.port, &store.tools_env)?;
    Ok((manifest, started.elapsed()))
}

/// The backup named `from`, or the newest.
pub fn chosen(store: &Store, from: Option<&str>) -> Result<Manifest, BackupError> {
    let all = store.shelf.backups()?;
    let found = match from {
        Some(id) => all.into_iter().find(|m| m.id == id),
        None => all.into_iter().last(),
    };
    found.ok_or_else(|| match from {
        Some(id) => BackupError::new(
            format!(
                "`{}` has no backup {id} in environment `{}`",
                store.service, store.environment
            ),
            "`berth backup list` shows the backups there are",
        ),
        None => BackupError::new(
            format!(
                "`{}` has no backup in environment `{}`",
                store.service, store.environment
            ),
            format!(
                "take one with `berth backup -e {} {}`",
                store.environment, store.service
            ),
        ),
    })
}

/// Restores `manifest` into the store answering on `port`, which `env` lets
/// the tools into.
pub fn put_back(
    state: &Path,
    store: &Store,
    manifest: &Manifest,
    port: u16,
    env: &[(String, String)],
    seeds: &Seeds,
) -> Result<(), BackupError> {
    let what = format!("restoring backup {} of `{}`", manifest.id, store.service);
    match store.kind.restore {
        Restore::Command(restore) => {
            let from = manifest.folder.display().to_string();
            let from = format!("'{}'", from.replace('\'', "'\\''"));
            shell::run(&restore("127.0.0.1", port, &from), &what, env)?;
        }
        Restore::Replica { file, .. } => match seeds {
            Seeds::Here => {
                let seed = seed_here(state, store, manifest, file)?;
                // The seed would otherwise wait five seconds for more replicas to join.
                shell::run(
                    &format!(
                        "redis-cli -h 127.0.0.1 -p {} config set repl-diskless-sync-delay 0",
                        seed.port
                    ),
                    &what,
                    &[],
                )?;
                replicate(port, ("127.0.0.1", seed.port), &what, env)?;
            }
            Seeds::Beside(start) => {
                let seed = start(&manifest.folder)?;
                let copied = replicate(port, (&seed.host, seed.port), &what, env);
                (seed.end)();
                copied?;
            }
            Seeds::Pushing => {
                let seed = seed_here(state, store, manifest, file)?;
                let password = store
                    .kind
                    .password
                    .and_then(|(_, variable)| env.iter().find(|(k, _)| k == variable))
                    .map(|(_, value)| value.as_str());
                migrate(seed.port, port, password, &what)?;
            }
        },
    }
    Ok(())
}

/// A throwaway store here that loaded the backup's `file`.
fn seed_here(
    state: &Path,
    store: &Store,
    manifest: &Manifest,
    file: &str,
) -> Result<Throwaway, BackupError> {
    let dir = state
        .join("drills")
        .join(format!("{}-replica", store.service));
    let source = manifest.folder.join(file);
    Throwaway::start(store, &dir, |dir| {
        std::fs::copy(&source, dir.join(file)).map(|_| ())
    })
}

/// Redis's way to take a whole dataset into a running server: as the replica
/// of one that loaded it, until the copy is whole, then on its own again.
fn replicate(
    port: u16,
    (host, from): (&str, u16),
    what: &str,
    env: &[(String, String)],
) -> Result<(), BackupError> {
    let cli = |command: &str| {
        shell::run(
            &format!("redis-cli -h 127.0.0.1 -p {port} {command}"),
            what,
            env,
        )
    };
    cli(&format!("replicaof {host} {from}"))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let info = cli("info replication")?;
        if info.contains("master_link_status:up") && info.contains("master_sync_in_progress:0") {
            break;
        }
        if Instant::now() > deadline {
            let _ = cli("replicaof no one");
            return Err(BackupError::new(
                format!("{what}: the copy did not finish within 10 minutes"),
                "see the store's log",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cli("replicaof no one")?;
    Ok(())
}

/// The store on `port` holds what the manifest recorded, or the differences.
pub fn checked(
    store: &Store,
    manifest: &Manifest,
    port: u16,
    env: &[(String, String)],
) -> Result<(), BackupError> {
    let got = census(store, port, env)?;
    let differ = differences(&manifest.census, &got, store.kind.restore_adds);
    if differ.is_empty() {
        return Ok(());
    }
    Err(BackupError::new(
        format!(
            "after restoring backup {} `{}` does not hold what it held:\n  {}",
            manifest.id,
            store.service,
            differ.join("\n  ")
        ),
        "the restore's tool said nothing wrong; look at the store's log",
    ))
}
