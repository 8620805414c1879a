//! RabbitMQ.

use super::{DataStore, LocalPlace, LocalRun, Restore, words};
use crate::model::Kind;

pub const STORE: DataStore = DataStore {
    kind: Kind::Rabbitmq,
    image: "rabbitmq",
    images: &["rabbitmq"],
    version: "3-management",
    ports: &[("amqp", 5672), ("management", 15672)],
    url: "amqp://{host}:{port}",
    data_dir: "/var/lib/rabbitmq",
    install: "apt-get install rabbitmq-server",
    // Debian's /usr/sbin/rabbitmq-server is a wrapper that re-runs this one
    // through `su`, in a session of its own that berth could not stop.
    binary_folders: &["/usr/lib/rabbitmq/bin"],
    refuses_root: Some("rabbitmq"),
    local,
    local_check: None,
    container_check,
    dump,
    census,
    restore: Restore::Command(restore),
    password: None,
};

fn local(at: &LocalPlace) -> LocalRun {
    let port = at.port.to_string();
    LocalRun {
        program: "rabbitmq-server",
        args: Vec::new(),
        init: None,
        env: vec![
            // Erlang keeps its cookie in $HOME, which must be the server's own.
            ("HOME".to_owned(), at.dir.to_owned()),
            ("RABBITMQ_DIST_PORT".to_owned(), distribution_port(at.port)),
            ("RABBITMQ_NODE_PORT".to_owned(), port),
            (
                "RABBITMQ_NODENAME".to_owned(),
                format!("{}@localhost", at.name),
            ),
            (
                "RABBITMQ_MNESIA_BASE".to_owned(),
                format!("{}/mnesia", at.dir),
            ),
            ("RABBITMQ_LOG_BASE".to_owned(), format!("{}/log", at.dir)),
        ],
    }
}

/// Erlang distribution listens 20000 above the AMQP port by default; above
/// 45535 that is no port, so it goes 20000 below instead.
fn distribution_port(amqp: u16) -> String {
    let amqp = u32::from(amqp);
    if amqp + 20000 <= 65535 {
        amqp + 20000
    } else {
        amqp - 20000
    }
    .to_string()
}

fn container_check(_: u16) -> Vec<String> {
    words(&["CMD", "rabbitmq-diagnostics", "-q", "ping"])
}

/// The broker's definitions: users, vhosts, queues, exchanges, bindings, policies.
fn dump(host: &str, _: u16, into: &str) -> String {
    format!(
        "mkdir -p {into} && rabbitmqctl -n rabbit@{host} export_definitions {into}/definitions.json"
    )
}

/// Queues and exchanges defined, as `queues COUNT` and `exchanges COUNT`.
fn census(host: &str, _: u16) -> String {
    format!(
        "echo queues $(rabbitmqctl -n rabbit@{host} -q list_queues name | wc -l); echo exchanges $(rabbitmqctl -n rabbit@{host} -q list_exchanges name | wc -l)"
    )
}

/// The definitions imported, added to what the broker has.
fn restore(host: &str, _: u16, from: &str) -> String {
    format!("rabbitmqctl -n rabbit@{host} import_definitions {from}/definitions.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_stays_a_port() {
        assert_eq!(distribution_port(5672), "25672");
        assert_eq!(distribution_port(50000), "30000");
    }
}
