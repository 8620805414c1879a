//! MongoDB.

use super::{DataStore, LocalPlace, LocalRun, words};
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
    dump,
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
