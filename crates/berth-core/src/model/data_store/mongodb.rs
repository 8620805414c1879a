//! MongoDB.

use super::{DataStore, LocalPlace, LocalRun, Restore, words};
use crate::model::Kind;

pub const STORE: DataStore = DataStore {
    kind: Kind::Mongodb,
    image: "mongo",
    images: &["mongo", "mongodb"],
    version: "7",
    ports: &[("mongodb", 27017)],
    url: "mongodb://{host}:{port}",
    data_dir: "/data/db",
    install: "install mongodb-org-server from MongoDB's own package repository",
    binary_folders: &[],
    refuses_root: None,
    local,
    local_check: None,
    container_check,
    tools_port: "mongodb",
    tools_image: None,
    dump,
    census,
    census_in_dump: false,
    restore: Restore::Command(restore),
    restore_adds: false,
    user: None,
    password: None,
};

fn local(at: &LocalPlace) -> LocalRun {
    LocalRun {
        program: "mongod",
        args: words(&[
            "--dbpath",
            at.dir,
            "--port",
            &at.port.to_string(),
            "--bind_ip",
            "127.0.0.1",
        ]),
        init: None,
        env: Vec::new(),
    }
}

fn container_check(port: u16) -> Vec<String> {
    words(&[
        "CMD",
        "mongosh",
        "--quiet",
        "--port",
        &port.to_string(),
        "--eval",
        "db.adminCommand('ping')",
    ])
}

/// Every database, as one archive.
fn dump(host: &str, port: u16, into: &str) -> String {
    format!(
        "mkdir -p {into} && mongodump --uri mongodb://{host}:{port} --archive={into}/mongodb.archive"
    )
}

/// Documents of each collection, as `database.collection DOCUMENTS`.
fn census(host: &str, port: u16) -> String {
    format!(
        "mongosh --quiet --host {host} --port {port} --eval 'db.getMongo().getDBNames().filter(d => !([\"admin\", \"config\", \"local\"].includes(d))).forEach(d => {{ const s = db.getSiblingDB(d); s.getCollectionNames().sort().forEach(c => print(d + \".\" + c + \" \" + s.getCollection(c).countDocuments())) }})'"
    )
}

/// Each collection replaced by the archive's.
fn restore(host: &str, port: u16, from: &str) -> String {
    format!("mongorestore --uri mongodb://{host}:{port} --drop --archive={from}/mongodb.archive")
}
