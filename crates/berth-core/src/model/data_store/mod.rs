//! What berth knows about each built-in data kind, one module per kind: its
//! image and ports, its URL, where it keeps its data, how to run it from its
//! binaries, how to tell it is ready, and how a backup of it is taken. Every
//! layer that treats a data kind its own way — the loader's defaults, the
//! local runtime, the compose and Kubernetes renderers, the import — asks here.

mod mongodb;
mod postgres;
mod rabbitmq;
mod redis;

use super::service::{Kind, Service};

/// The built-in knowledge of one data kind.
#[derive(Debug)]
pub struct DataStore {
    pub kind: Kind,
    /// Official image name, without a tag.
    pub image: &'static str,
    /// Image repositories (their last path part) that are this kind, for imports.
    pub images: &'static [&'static str],
    /// The image tag used when the service gives no `version`.
    pub version: &'static str,
    /// Ports in order; the first is the one `${svc.url}` points at.
    pub ports: &'static [(&'static str, u16)],
    /// The URL form: `{host}` and `{port}` are filled in per runtime.
    pub url: &'static str,
    /// Where the data lives inside the container.
    pub data_dir: &'static str,
    /// How to install its binaries, for the local runtime.
    pub install: &'static str,
    /// Folders its binaries live in off PATH (`*` for any version), searched first.
    pub binary_folders: &'static [&'static str],
    /// The system user it must run as when berth runs as root, which it refuses.
    pub refuses_root: Option<&'static str>,
    /// How the local runtime runs it from its binaries.
    pub local: fn(&LocalPlace) -> LocalRun,
    /// The readiness check of the local runtime, where an open port is not yet
    /// ready; None for a TCP check.
    pub local_check: Option<fn(port: u16) -> Vec<String>>,
    /// The container's health check, run inside its image (the Engine's `CMD` form).
    pub container_check: fn(port: u16) -> Vec<String>,
    /// The port, by name, that its backup tools talk to.
    pub tools_port: &'static str,
    /// The image the scheduled backups run the tools in, where the store's
    /// own image lacks them.
    pub tools_image: Option<&'static str>,
    /// The shell command that takes one backup of the store at `host:port`
    /// (its tools port) into the folder `into`.
    pub dump: fn(host: &str, port: u16, into: &str) -> String,
    /// The shell command that prints what the store holds, one `WHAT COUNT`
    /// line each (rows per table, keys per database): what a restore must
    /// give back.
    pub census: fn(host: &str, port: u16) -> String,
    /// The dump counts what it holds itself, as of its own snapshot, into
    /// the file [`CENSUS_FILE`] of its folder (then the census above only
    /// checks a restore).
    pub census_in_dump: bool,
    pub restore: Restore,
    /// A restore adds what the backup held and removes nothing, so a store
    /// restored holds at least what was counted, where others hold exactly it.
    pub restore_adds: bool,
    /// The variable that names the user its tools log in as, and the variable
    /// the tools read it from.
    pub user: Option<(&'static str, &'static str)>,
    /// The secret that holds the store's password, and the variable its
    /// client tools read it from.
    pub password: Option<(&'static str, &'static str)>,
}

/// The file a dump that counts what it holds writes its census into, one
/// `WHAT COUNT` line each; taken out of the backup into its manifest.
pub const CENSUS_FILE: &str = "census";

/// How a backup goes back into a running store.
#[derive(Debug)]
pub enum Restore {
    /// A shell command that restores the backup in the folder `from` into the
    /// store at `host:port`.
    Command(fn(host: &str, port: u16, from: &str) -> String),
    /// The store loads the named file of the backup when it starts: an
    /// instance of its own loads it, and the running store copies it from
    /// there as its replica.
    Replica {
        file: &'static str,
        /// The command of that instance in a container of the store's image,
        /// which loads `file` from the read-only folder `dir` and serves on
        /// `port`, for a store that runs in a container.
        in_container: fn(dir: &str, port: u16) -> Vec<String>,
    },
}

/// Where one local instance of a data store runs.
pub struct LocalPlace<'a> {
    /// The service's name.
    pub name: &'a str,
    /// The folder it keeps its files in.
    pub dir: &'a str,
    pub port: u16,
    /// Every port of the instance by name, the first being `port`.
    pub ports: &'a [(&'a str, u16)],
}

impl LocalPlace<'_> {
    pub fn port_named(&self, name: &str) -> Option<u16> {
        self.ports.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// How a local instance runs: a program by name (found on PATH or in the
/// kind's folders), a step that prepares its folder the first time, and the
/// environment it needs.
pub struct LocalRun {
    pub program: &'static str,
    pub args: Vec<String>,
    /// Run once, before the first start: a program and its arguments, and the
    /// file whose presence says it has run.
    pub init: Option<(&'static str, Vec<String>, &'static str)>,
    pub env: Vec<(String, String)>,
}

const STORES: [&DataStore; 4] = [
    &postgres::STORE,
    &mongodb::STORE,
    &redis::STORE,
    &rabbitmq::STORE,
];

impl DataStore {
    pub fn of(kind: Kind) -> Option<&'static DataStore> {
        STORES.iter().copied().find(|store| store.kind == kind)
    }

    /// The data kind an image is, by the last part of its repository's name.
    pub fn of_image(image: &str) -> Option<&'static DataStore> {
        let repository = image.split(['@', ':']).next().unwrap_or(image);
        let last = repository.rsplit('/').next().unwrap_or(repository);
        STORES
            .iter()
            .copied()
            .find(|store| store.images.contains(&last))
    }

    /// The tools port among an instance's ports by name; the first where
    /// it has none of that name.
    pub fn tools_port_in(&self, ports: &[(&str, u16)]) -> u16 {
        ports
            .iter()
            .find(|(name, _)| *name == self.tools_port)
            .unwrap_or(&ports[0])
            .1
    }

    /// The tools' variable and the user it names, where the service's
    /// environment names one plainly.
    pub fn tools_user(&self, service: &Service) -> Option<(&'static str, String)> {
        let (key, variable) = self.user?;
        let user = service.env.get(key).filter(|u| u.is_literal())?;
        Some((variable, user.to_string()))
    }

    pub fn url_for(&self, host: &str, port: u16) -> String {
        self.url
            .replace("{host}", host)
            .replace("{port}", &port.to_string())
    }
}

/// Words as owned strings, for argv.
fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_their_kind() {
        let kind = |image| DataStore::of_image(image).map(|s| s.kind);
        assert_eq!(kind("postgres:16"), Some(Kind::Postgres));
        assert_eq!(
            kind("docker.io/bitnami/postgresql@sha256:ab"),
            Some(Kind::Postgres)
        );
        assert_eq!(kind("mongo"), Some(Kind::Mongodb));
        assert_eq!(kind("redis:7-alpine"), Some(Kind::Redis));
        assert_eq!(kind("rabbitmq:3-management"), Some(Kind::Rabbitmq));
        assert_eq!(kind("redis-commander:1"), None);
    }

    #[test]
    fn every_kind_has_its_knowledge() {
        for kind in [Kind::Postgres, Kind::Mongodb, Kind::Redis, Kind::Rabbitmq] {
            let store = DataStore::of(kind).unwrap();
            assert_eq!(store.kind, kind);
            assert!(!(store.container_check)(store.ports[0].1).is_empty());
            assert!((store.dump)("db", store.ports[0].1, "/backup/x").contains("/backup/x"));
            assert!((store.census)("db", store.ports[0].1).contains("db"));
        }
    }
}
