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
    tools_port: "management",
    tools_image: Some("curlimages/curl:8.11.1"),
    dump,
    census,
    census_in_dump: false,
    restore: Restore::Command(restore),
    restore_adds: true,
    user: Some(("RABBITMQ_DEFAULT_USER", "RABBITMQ_USER")),
    password: Some(("RABBITMQ_DEFAULT_PASS", "RABBITMQ_PASSWORD")),
};

fn local(at: &LocalPlace) -> LocalRun {
    let port = at.port.to_string();
    let mut run = LocalRun {
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
    };
    // The management API is where definitions are exported and imported,
    // as the `-management` images serve it.
    if let Some(management) = at.port_named("management") {
        run.env.extend([
            (
                "RABBITMQ_ENABLED_PLUGINS".to_owned(),
                "rabbitmq_management".to_owned(),
            ),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS".to_owned(),
                format!("-rabbitmq_management tcp_config [{{port,{management}}}]"),
            ),
        ]);
    }
    run
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

/// A shell function `api PATH [CURL OPTIONS]` that calls the management API
/// at `host:port`, logged in with `RABBITMQ_USER` and `RABBITMQ_PASSWORD`
/// (guest, guest by default) given to curl on its standard input, never as an
/// argument another user could read.
fn api(host: &str, port: u16) -> String {
    r#"api() { path=$1; shift; esc() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }; printf 'user = "%s:%s"\n' "$(esc "${RABBITMQ_USER:-guest}")" "$(esc "${RABBITMQ_PASSWORD:-guest}")" | curl -fsS -K - "$@" "http://HOST:PORT/api/$path"; }; "#
        .replace("HOST", host)
        .replace("PORT", &port.to_string())
}

/// The broker's definitions: users, vhosts, queues, exchanges, bindings, policies.
fn dump(host: &str, port: u16, into: &str) -> String {
    format!(
        "{}mkdir -p {into} && api definitions -o {into}/definitions.json",
        api(host, port)
    )
}

/// What is defined, as `queues COUNT`, `exchanges COUNT`, …: each object of
/// these lists has a `vhost` (users and vhosts a `name`), asked for alone.
fn census(host: &str, port: u16) -> String {
    api(host, port)
        + r#"set -e; count() { listed=$(api "$1?columns=$2"); echo "$1 $(printf '%s' "$listed" | grep -o "{\"$2\":" | wc -l)"; }; for what in queues exchanges bindings policies; do count "$what" vhost; done; count users name; count vhosts name"#
}

/// The definitions imported, added to what the broker has.
fn restore(host: &str, port: u16, from: &str) -> String {
    format!(
        "{}api definitions -X POST -H 'content-type: application/json' --data-binary @{from}/definitions.json",
        api(host, port)
    )
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
