//! What a store holds, counted: rows per table, keys per database.

use std::collections::BTreeMap;

use super::{BackupError, Store, shell};

pub type Census = BTreeMap<String, u64>;

/// What the store on `port` holds; `env` lets the tools in.
pub fn census(store: &Store, port: u16, env: &[(String, String)]) -> Result<Census, BackupError> {
    let script = (store.kind.census)("127.0.0.1", port);
    let printed = shell::run(
        &script,
        &format!("counting what `{}` holds", store.service),
        env,
    )?;
    Ok(parse(&printed))
}

/// `WHAT COUNT` lines.
pub fn parse(printed: &str) -> Census {
    printed
        .lines()
        .filter_map(|line| {
            let (what, count) = line.trim().rsplit_once(' ')?;
            Some((what.to_owned(), count.parse().ok()?))
        })
        .collect()
}

/// How `got` differs from what the manifest recorded, one line each; with
/// `at_least`, holding more is no difference.
pub fn differences(recorded: &Census, got: &Census, at_least: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (what, count) in recorded {
        match got.get(what) {
            Some(found) if found == count || (at_least && found > count) => {}
            Some(found) => out.push(format!("{what}: {found}, the backup had {count}")),
            None => out.push(format!("{what}: missing, the backup had {count}")),
        }
    }
    out
}
