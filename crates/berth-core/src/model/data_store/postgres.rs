//! PostgreSQL.

use super::{DataStore, LocalPlace, LocalRun, words};
use crate::model::Kind;

pub const STORE: DataStore = DataStore {
    kind: Kind::Postgres,
    image: "postgres",
    images: &["postgres", "postgresql"],
    version: "16",
    ports: &[("postgres", 5432)],
    url: "postgres://{host}:{port}",
    data_dir: "/var/lib/postgresql/data",
    install: "apt-get install postgresql",
    // Debian keeps the server's binaries off PATH, a folder per major version.
    binary_folders: &["/usr/lib/postgresql/*/bin"],
    refuses_root: Some("postgres"),
    local,
    local_check: Some(ready),
    container_check,
    dump,
};

fn local(at: &LocalPlace) -> LocalRun {
    LocalRun {
        program: "postgres",
        args: vec![
            "-D".into(),
            at.dir.into(),
            "-p".into(),
            at.port.to_string(),
            "-k".into(),
            at.dir.into(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
        ],
        init: Some((
            "initdb",
            words(&["-D", at.dir, "-U", "postgres", "-A", "trust"]),
            "PG_VERSION",
        )),
        env: Vec::new(),
    }
}

/// PostgreSQL accepts connections before it takes them ("the database system
/// is starting up"); pg_isready tells the two apart.
fn ready(port: u16) -> Vec<String> {
    words(&[
        "pg_isready",
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ])
}

fn container_check(port: u16) -> Vec<String> {
    words(&[
        "CMD",
        "pg_isready",
        "-U",
        "postgres",
        "-p",
        &port.to_string(),
    ])
}

/// The roles and settings of the whole server, then each database in pg_dump's
/// custom format, which pg_restore restores table by table.
fn dump(host: &str, port: u16, into: &str) -> String {
    let connect = format!("-h {host} -p {port} -U postgres");
    format!(
        "mkdir -p {into} && pg_dumpall {connect} --globals-only > {into}/globals.sql && for db in $(psql {connect} -Atc \"select datname from pg_database where datallowconn and not datistemplate\"); do pg_dump {connect} -Fc -f {into}/$db.dump $db; done"
    )
}
