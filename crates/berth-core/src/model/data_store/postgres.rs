//! PostgreSQL.

use super::{CENSUS_FILE, DataStore, LocalPlace, LocalRun, Restore, words};
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
    tools_port: "postgres",
    tools_image: None,
    dump,
    census,
    census_in_dump: true,
    restore: Restore::Command(restore),
    restore_adds: false,
    user: Some(("POSTGRES_USER", "PGUSER")),
    password: Some(("POSTGRES_PASSWORD", "PGPASSWORD")),
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
/// custom format, which pg_restore restores table by table. Each database's
/// rows are counted inside the very snapshot its pg_dump takes (exported by
/// a transaction held open until the dump is done), so the census is what
/// the dump holds even while the store is written to; the counting runs
/// beside the dump.
fn dump(host: &str, port: u16, into: &str) -> String {
    let connect = connect(host, port);
    let session = DUMP_SESSION
        .replace("CONNECT", &connect)
        .replace("COUNT_ROWS", COUNT_ROWS);
    format!(
        "mkdir -p {into} && pg_dumpall {connect} --globals-only > {into}/globals.sql && : > {into}/{CENSUS_FILE} && for db in $(psql {connect} -Atc \"{DATABASES}\"); do psql {connect} -d \"$db\" -qAtX -F ' ' -v ON_ERROR_STOP=1 -v db=\"$db\" -v into={into} >> {into}/{CENSUS_FILE} <<'SQL' || exit 1\n{session}\nSQL\n[ \"$(cat {into}/\"$db\".status)\" = 0 ] || exit 1; rm {into}/\"$db\".status; done"
    )
}

/// One database's dump and count, in psql: the snapshot exported, pg_dump
/// started on it in the background, the rows counted, the dump awaited.
const DUMP_SESSION: &str = r#"begin isolation level repeatable read read only;
select pg_export_snapshot() as snapshot \gset
\setenv SNAPSHOT :snapshot
\setenv DB :db
\setenv INTO :into
\! (pg_dump CONNECT -Fc --snapshot="$SNAPSHOT" -f "$INTO/$DB.dump" "$DB"; echo $? > "$INTO/$DB.status") &
COUNT_ROWS
\! while [ ! -e "$INTO/$DB.status" ]; do sleep 0.05; done
commit;"#;

fn connect(host: &str, port: u16) -> String {
    format!("-h {host} -p {port} -U \"${{PGUSER:-postgres}}\"")
}

/// In psql, with `db` set: the rows of each table of the database, as
/// `database.schema.table ROWS`.
const COUNT_ROWS: &str = r"select format('select %L, count(*) from %I.%I', :'db' || '.' || table_schema || '.' || table_name, table_schema, table_name) from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1 \gexec";

/// The databases to dump and count: all that take connections, but the templates.
const DATABASES: &str =
    "select datname from pg_database where datallowconn and not datistemplate order by 1";

/// Rows of every table of every database, as `database.schema.table ROWS`.
fn census(host: &str, port: u16) -> String {
    let connect = connect(host, port);
    format!(
        "for db in $(psql {connect} -Atc \"{DATABASES}\"); do psql {connect} -d \"$db\" -AtF ' ' -v db=\"$db\" <<'SQL'\n{COUNT_ROWS}\nSQL\ndone"
    )
}

/// The roles first (those that exist stay), then each database made if it is
/// missing and restored with what it held before dropped: by as many jobs as
/// there are cores, up to 4, since a dump written to a file can be restored
/// table by table and index by index at once.
fn restore(host: &str, port: u16, from: &str) -> String {
    let connect = connect(host, port);
    format!(
        "set -e; jobs=$(nproc 2>/dev/null || echo 1); [ \"$jobs\" -le 4 ] || jobs=4; psql {connect} -q -f {from}/globals.sql >/dev/null 2>&1 || true; for file in {from}/*.dump; do db=$(basename \"$file\" .dump); psql {connect} -Atc \"select 1 from pg_database where datname = '$db'\" | grep -q 1 || createdb {connect} \"$db\"; pg_restore {connect} --clean --if-exists --no-owner --jobs=\"$jobs\" -d \"$db\" \"$file\"; done"
    )
}
