//! What berth knows about each built-in data kind.

use super::service::Kind;

/// The built-in knowledge of one data kind.
#[derive(Debug)]
pub struct DataStore {
    pub kind: Kind,
    /// Official image name, without a tag.
    pub image: &'static str,
    /// The image tag used when the service gives no `version`.
    pub version: &'static str,
    /// Ports in order; the first is the one `${svc.url}` points at.
    pub ports: &'static [(&'static str, u16)],
    /// The URL form: `{host}` and `{port}` are filled in per runtime.
    pub url: &'static str,
    /// Where the data lives inside the container.
    pub data_dir: &'static str,
    /// The binary the local runtime runs, and how to install it.
    pub local_binary: &'static str,
    pub install: &'static str,
    /// How a backup is taken.
    pub backup: &'static str,
}

const STORES: [DataStore; 4] = [
    DataStore {
        kind: Kind::Postgres,
        image: "postgres",
        version: "16",
        ports: &[("postgres", 5432)],
        url: "postgres://{host}:{port}",
        data_dir: "/var/lib/postgresql/data",
        local_binary: "postgres",
        install: "apt-get install postgresql",
        backup: "pg_dump",
    },
    DataStore {
        kind: Kind::Mongodb,
        image: "mongo",
        version: "7",
        ports: &[("mongodb", 27017)],
        url: "mongodb://{host}:{port}",
        data_dir: "/data/db",
        local_binary: "mongod",
        install: "install mongodb-org-server from MongoDB's own package repository",
        backup: "mongodump",
    },
    DataStore {
        kind: Kind::Redis,
        image: "redis",
        version: "7-alpine",
        ports: &[("redis", 6379)],
        url: "redis://{host}:{port}",
        data_dir: "/data",
        local_binary: "redis-server",
        install: "apt-get install redis-server",
        backup: "redis BGSAVE and a copy of the snapshot",
    },
    DataStore {
        kind: Kind::Rabbitmq,
        image: "rabbitmq",
        version: "3-management",
        ports: &[("amqp", 5672), ("management", 15672)],
        url: "amqp://{host}:{port}",
        data_dir: "/var/lib/rabbitmq",
        local_binary: "rabbitmq-server",
        install: "apt-get install rabbitmq-server",
        backup: "rabbitmqctl export_definitions",
    },
];

impl DataStore {
    pub fn of(kind: Kind) -> Option<&'static DataStore> {
        STORES.iter().find(|store| store.kind == kind)
    }

    pub fn url_for(&self, host: &str, port: u16) -> String {
        self.url
            .replace("{host}", host)
            .replace("{port}", &port.to_string())
    }
}
