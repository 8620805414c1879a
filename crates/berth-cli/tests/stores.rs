//! Data stores run from their own binaries, and their data survives a restart.
//! `.ci/run` installs redis-server, PostgreSQL and RabbitMQ; where one cannot be
//! had, its test says so on stderr instead of passing silently.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_core::model::Kind;
use support::{Up, free_ports, installed, missing, scratch};

const LONG: Duration = Duration::from_secs(60);

/// Runs `up` in `dir` until it is up, lets `work` use it, then stops it.
/// What `work` gives, done while `berth up` runs the one store of `dir`.
fn with_up<T>(dir: &Path, work: impl FnOnce() -> T) -> T {
    let mut up = Up::start_in(dir.to_path_buf(), &[]);
    up.wait_for("1 service up", LONG);
    let done = work();
    up.signal("-INT");
    assert_eq!(up.exit_code(LONG), Some(0), "{}", up.transcript());
    done
}

/// A scratch folder whose berth.yaml is one redis store `cache`, and its port.
fn redis_project(name: &str) -> (std::path::PathBuf, u16) {
    project(name, |port| {
        format!("name: r\nservices:\n  cache: {{ kind: redis, ports: {{ redis: {port} }} }}\n")
    })
}

/// A scratch folder whose berth.yaml is one postgres store `db`, and its port.
fn postgres_project(name: &str) -> (std::path::PathBuf, u16) {
    project(name, |port| {
        format!("name: p\nservices:\n  db: {{ kind: postgres, ports: {{ postgres: {port} }} }}\n")
    })
}

fn project(name: &str, yaml: impl Fn(u16) -> String) -> (std::path::PathBuf, u16) {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let dir = scratch(name);
    std::fs::write(dir.join("berth.yaml"), yaml(port)).unwrap();
    (dir, port)
}

fn redis(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

#[test]
fn redis_runs_from_its_binary_and_keeps_its_data_across_restarts() {
    if missing("redis-server") {
        return;
    }
    let (dir, port) = redis_project("redis");
    with_up(&dir, || {
        assert_eq!(redis(port, "SET berth works"), "+OK\r\n")
    });
    with_up(&dir, || {
        assert_eq!(redis(port, "GET berth"), "$5\r\nworks\r\n")
    });
    assert!(dir.join(".berth/data/cache/dump.rdb").is_file());
}

fn psql(port: u16, sql: &str) -> String {
    psql_in(port, "postgres", sql)
}

fn psql_in(port: u16, database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn postgres_is_initialised_once_and_keeps_its_data_across_restarts() {
    if missing("initdb") || missing("psql") {
        return;
    }
    let (dir, port) = postgres_project("postgres");
    with_up(&dir, || {
        psql(
            port,
            "CREATE TABLE berth (answer int); INSERT INTO berth VALUES (42)",
        );
    });
    with_up(&dir, || {
        assert_eq!(psql(port, "SELECT answer FROM berth"), "42")
    });
}

#[test]
fn a_missing_binary_names_what_to_install_or_to_use_external() {
    if installed("mongod") {
        support::not_run("mongod is installed here, so it cannot be missing");
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let mut up = Up::start(
        "missing",
        &format!(
            "name: m\nservices:\n  mongo: {{ kind: mongodb, ports: {{ mongodb: {port} }} }}\n"
        ),
        &[],
    );
    assert_eq!(up.exit_code(LONG), Some(1));
    let transcript = up.transcript();
    assert!(
        transcript.contains("error: mongo: `mongod` is not installed"),
        "{transcript}"
    );
    assert!(
        transcript.contains("MongoDB's own package repository"),
        "{transcript}"
    );
    assert!(
        transcript.contains("under this environment's `external:`"),
        "{transcript}"
    );
}

#[test]
fn rabbitmq_runs_from_its_binary_speaks_amqp_and_stops_with_berth() {
    if missing("rabbitmq-server") {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let dir = scratch("rabbitmq");
    std::fs::write(
        dir.join("berth.yaml"),
        format!("name: q\nservices:\n  mq: {{ kind: rabbitmq, ports: {{ amqp: {port} }} }}\n"),
    )
    .unwrap();
    with_up(&dir, || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"AMQP\x00\x00\x09\x01").unwrap();
        let mut frame = [0u8; 11];
        stream.read_exact(&mut frame).unwrap();
        // A method frame on channel 0: class 10 (connection), method 10 (start).
        assert_eq!(
            (frame[0], &frame[1..3], &frame[7..11]),
            (1, &[0u8, 0][..], &[0u8, 10, 0, 10][..])
        );
    });
    assert!(dir.join(".berth/data/mq/mnesia").is_dir());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !support::processes_naming(&dir.join(".berth/data/mq")).is_empty()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        support::processes_naming(&dir.join(".berth/data/mq")),
        Vec::<String>::new()
    );
}

#[test]
fn the_scheduled_backup_of_postgres_is_globals_and_each_database_in_custom_format() {
    if missing("initdb") || missing("pg_dump") || missing("pg_restore") {
        return;
    }
    let (dir, port) = postgres_project("postgres-backup");
    let backup = with_up(&dir, || {
        psql(port, "CREATE DATABASE shop");
        psql_in(
            port,
            "shop",
            "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 100)",
        );
        support::scheduled_backup(Kind::Postgres, "db", port, &dir.join("backup"), 7)
    });
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["census"]["shop.public.orders"], 100, "{manifest}");
    assert_eq!(manifest["files"].as_array().unwrap().len(), 3, "{manifest}");
    assert!(
        std::fs::read_to_string(backup.join("globals.sql"))
            .unwrap()
            .contains("ROLE postgres")
    );
    for database in ["postgres", "shop"] {
        assert!(
            backup.join(format!("{database}.dump")).is_file(),
            "{database}"
        );
    }
    let list = Command::new("pg_restore")
        .args(["--list", backup.join("shop.dump").to_str().unwrap()])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("TABLE DATA public orders"), "{list}");
}

#[test]
fn the_scheduled_backup_of_redis_is_its_snapshot() {
    if missing("redis-server") || missing("redis-cli") {
        return;
    }
    let (dir, port) = redis_project("redis-backup");
    let backup = with_up(&dir, || {
        assert_eq!(redis(port, "SET kept yes"), "+OK\r\n");
        support::scheduled_backup(Kind::Redis, "cache", port, &dir.join("backup"), 7)
    });
    let snapshot = std::fs::read(backup.join("dump.rdb")).unwrap();
    assert!(snapshot.starts_with(b"REDIS"), "an RDB file");
    assert!(
        snapshot.windows(4).any(|w| w == b"kept"),
        "the key is in the snapshot"
    );
}
