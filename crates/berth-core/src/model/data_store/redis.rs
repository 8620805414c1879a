//! Redis.

use super::{DataStore, LocalPlace, LocalRun, Restore, words};
use crate::model::Kind;

pub const STORE: DataStore = DataStore {
    kind: Kind::Redis,
    image: "redis",
    images: &["redis"],
    version: "7-alpine",
    ports: &[("redis", 6379)],
    url: "redis://{host}:{port}",
    data_dir: "/data",
    install: "apt-get install redis-server",
    binary_folders: &[],
    refuses_root: None,
    local,
    local_check: None,
    container_check,
    tools_port: "redis",
    tools_image: None,
    dump,
    census,
    census_in_dump: false,
    restore: Restore::Replica {
        file: "dump.rdb",
        in_container: seed_in_container,
    },
    restore_adds: false,
    user: None,
    password: Some(("REDIS_PASSWORD", "REDISCLI_AUTH")),
};

fn local(at: &LocalPlace) -> LocalRun {
    LocalRun {
        program: "redis-server",
        args: words(&[
            "--port",
            &at.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            at.dir,
        ]),
        init: None,
        env: Vec::new(),
    }
}

/// A server that loads `dump.rdb` from `dir` and never writes: `dir` is the
/// backup itself, mounted read-only. It streams to its replica at once.
fn seed_in_container(dir: &str, port: u16) -> Vec<String> {
    words(&[
        "redis-server",
        "--port",
        &port.to_string(),
        "--dir",
        dir,
        "--dbfilename",
        "dump.rdb",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--repl-diskless-sync-delay",
        "0",
    ])
}

fn container_check(port: u16) -> Vec<String> {
    words(&["CMD", "redis-cli", "-p", &port.to_string(), "ping"])
}

/// A snapshot taken for a replica (`--rdb`): the whole dataset, as it was.
/// The server waits `repl-diskless-sync-delay` (5 s) for more replicas before
/// it streams one; that wait is set to none for the copy, then put back
/// (where CONFIG is allowed). A subshell, so that its exit ends only itself
/// where it is one step of a script.
fn dump(host: &str, port: u16, into: &str) -> String {
    let cli = format!("redis-cli -h {host} -p {port}");
    format!(
        "(mkdir -p {into} && delay=$({cli} config get repl-diskless-sync-delay 2>/dev/null | sed -n 2p); [ -z \"$delay\" ] || {cli} config set repl-diskless-sync-delay 0 >/dev/null; if {cli} --rdb {into}/dump.rdb; then copied=0; else copied=$?; fi; [ -z \"$delay\" ] || {cli} config set repl-diskless-sync-delay \"$delay\" >/dev/null; exit $copied)"
    )
}

/// Keys without an expiry in each database, as `db0 without expiry KEYS`:
/// keys with one may expire between a backup and the check of its restore.
fn census(host: &str, port: u16) -> String {
    format!(
        "redis-cli -h {host} -p {port} info keyspace | tr -d '\\r' | awk -F '[:=,]' '/^db[0-9]+:/ {{ print $1 \" without expiry \" $3 - $5 }}'"
    )
}
