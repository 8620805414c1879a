//! `berth backup`, `restore`, `backup drill` and `backup list` against the
//! real PostgreSQL and Redis that `.ci/run` installs: data written, backed up,
//! destroyed, restored and compared; a damaged backup refused; retention; a
//! drill's RTO and RPO; a berth killed during a backup leaves no backup.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{berth, free_ports, missing, redis_cli, scratch, text};

fn psql(port: u16, database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", database, "-qAtc", sql])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Every row of the shop's tables, digested: equal digests, equal rows.
fn shop_digest(port: u16) -> String {
    psql(
        port,
        "shop",
        "select (select md5(string_agg(id || ':' || item, ',' order by id)) from orders) || ' ' || (select md5(string_agg(name, ',' order by name)) from customers)",
    )
}

/// A scratch folder holding `yaml` as its berth.yaml, and the marker of the
/// processes berth runs there.
fn project(name: &str, yaml: &str) -> (PathBuf, String) {
    let dir = scratch(name);
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let marker = format!("{}-backup", dir.display());
    (dir, marker)
}

fn up(dir: &Path, marker: &str) {
    let up = berth(dir, marker, &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
}

fn down(dir: &Path, marker: &str) {
    let down = berth(dir, marker, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    support::assert_gone(marker);
}

#[test]
fn postgres_is_backed_up_restored_row_for_row_and_drilled() {
    if missing("initdb") || missing("pg_dump") || missing("pg_restore") {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let (dir, marker) = project(
        "backup-postgres",
        &format!(
            "name: shop\nservices:\n  db:\n    kind: postgres\n    ports: {{ postgres: {port} }}\n    secrets: {{ POSTGRES_PASSWORD: {{ file: db-password }} }}\n    backup: {{ retention: 2, rto: 5m, rpo: 1s }}\n"
        ),
    );
    std::fs::write(dir.join("db-password"), "never-written-down").unwrap();
    up(&dir, &marker);
    psql(port, "postgres", "create database shop");
    psql(
        port,
        "shop",
        "create table orders (id int primary key, item text); insert into orders select n, 'item ' || n from generate_series(1, 5000) n; create table customers (name text); insert into customers values ('ada'), ('grace')",
    );
    let before = shop_digest(port);

    // Written to all through the backup: what is counted is what the dump holds.
    psql(port, "shop", "create table events (id serial primary key)");
    let mut writer = Command::new("sh")
        .args(["-c", &format!("while :; do psql -h 127.0.0.1 -p {port} -U postgres -d shop -qc 'insert into events default values'; done")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let backup = berth(&dir, &marker, &["backup"]);
    let _ = writer.kill();
    let _ = writer.wait();
    // The insert under way when the loop was killed ends on its own.
    std::thread::sleep(Duration::from_millis(300));
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(
        text(&backup).contains("backed up `db`"),
        "{}",
        text(&backup)
    );
    psql(port, "shop", "drop table orders; delete from customers");

    let refused = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["restore", "db"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a restore without --yes and no terminal asks for it"
    );
    assert!(text(&refused).contains("say so with `--yes`"));

    let restore = berth(&dir, &marker, &["restore", "db", "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert_eq!(shop_digest(port), before, "every row is back");

    let drill = berth(&dir, &marker, &["backup", "drill"]);
    let said = text(&drill);
    assert!(said.contains("drilled `db` with backup"), "{said}");
    assert!(
        said.contains("RTO") && said.contains("(target 5m: met)"),
        "{said}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let late = berth(&dir, &marker, &["backup", "drill", "db"]);
    assert_eq!(
        late.status.code(),
        Some(1),
        "an RPO of 1s is missed a second later: {}",
        text(&late)
    );
    assert!(
        text(&late).contains("(target 1s: MISSED)"),
        "{}",
        text(&late)
    );

    // Retention keeps the newest two.
    for _ in 0..2 {
        assert!(berth(&dir, &marker, &["backup", "db"]).status.success());
    }
    let list = berth(&dir, &marker, &["backup", "list", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let backups = list[0]["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 2, "{list}");
    assert!(list[0]["last_drill"]["rto_seconds"].as_f64().unwrap() > 0.0);

    // A damaged file is refused, and nothing is restored.
    let newest = backups[1]["id"].as_str().unwrap();
    let folder = dir.join(".berth/backups/local/db").join(newest);
    let mut damaged = std::fs::read(folder.join("shop.dump")).unwrap();
    damaged[100] ^= 0xff;
    std::fs::write(folder.join("shop.dump"), damaged).unwrap();
    psql(port, "shop", "delete from customers where name = 'ada'");
    let refused = berth(&dir, &marker, &["restore", "db", "--yes"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).contains("is damaged: shop.dump"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        psql(port, "shop", "select count(*) from customers"),
        "1",
        "nothing was restored"
    );
    let older = backups[0]["id"].as_str().unwrap();
    let restore = berth(&dir, &marker, &["restore", "db", "--from", older, "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert_eq!(shop_digest(port), before);
    down(&dir, &marker);
    let mut written = String::new();
    for entry in std::fs::read_dir(dir.join(".berth/backups/local/db")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            written += &std::fs::read_to_string(path.join("manifest.json")).unwrap();
        } else {
            written += &std::fs::read_to_string(&path).unwrap();
        }
    }
    assert!(
        !written.contains("never-written-down"),
        "no manifest or drill holds the password"
    );
}

/// A Redis under `berth up -d` in a scratch folder: the folder, the marker of
/// its processes, its port; None, said, where Redis is not installed.
fn redis_up(name: &str) -> Option<(PathBuf, String, u16)> {
    if missing("redis-server") || missing("redis-cli") {
        return None;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let (dir, marker) = project(
        name,
        &format!(
            "name: cache\nservices:\n  cache: {{ kind: redis, ports: {{ redis: {port} }} }}\n"
        ),
    );
    up(&dir, &marker);
    Some((dir, marker, port))
}

#[test]
fn redis_is_backed_up_restored_key_for_key_and_drilled() {
    let Some((dir, marker, port)) = redis_up("backup-redis") else {
        return;
    };
    let keys: Vec<String> = (0..1000)
        .flat_map(|n| [format!("key:{n}"), format!("value {n}")])
        .collect();
    let mut mset = vec!["mset"];
    mset.extend(keys.iter().map(String::as_str));
    assert_eq!(redis_cli(port, &mset), "OK");
    // A key that expires before the restore is no key the restore must give back.
    assert_eq!(redis_cli(port, &["set", "brief", "1", "px", "500"]), "OK");
    let backup = berth(&dir, &marker, &["backup", "cache"]);
    assert!(backup.status.success(), "{}", text(&backup));
    std::thread::sleep(Duration::from_millis(600));
    redis_cli(port, &["flushall"]);
    assert_eq!(redis_cli(port, &["dbsize"]), "0");
    let restore = berth(&dir, &marker, &["restore", "cache", "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert_eq!(redis_cli(port, &["dbsize"]), "1000");
    assert_eq!(redis_cli(port, &["get", "key:999"]), "value 999");
    assert!(
        redis_cli(port, &["info", "replication"]).contains("role:master"),
        "the store is on its own again"
    );
    let drill = berth(&dir, &marker, &["backup", "drill", "cache"]);
    assert!(drill.status.success(), "{}", text(&drill));
    down(&dir, &marker);
}

#[test]
fn a_backup_cut_short_is_never_listed_or_restored() {
    let Some((dir, marker, port)) = redis_up("backup-killed") else {
        return;
    };
    redis_cli(port, &["set", "kept", "yes"]);
    // Killed at once, or a moment later: either no backup, or a whole one.
    for wait in [0, 20, 60] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["backup", "cache"])
            .current_dir(&dir)
            .env("BERTH_TEST_RUN", &marker)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill();
        let _ = child.wait();
    }
    // What a backup killed in the middle leaves: a folder without its manifest.
    let cut = dir.join(".berth/backups/local/cache/20260101-000000.partial");
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::write(cut.join("dump.rdb"), b"half").unwrap();
    let list = berth(&dir, &marker, &["backup", "list", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    for backup in list[0]["backups"].as_array().unwrap() {
        assert!(
            !backup["id"].as_str().unwrap().contains("partial"),
            "{list}"
        );
        let restore = berth(
            &dir,
            &marker,
            &[
                "restore",
                "cache",
                "--from",
                backup["id"].as_str().unwrap(),
                "--yes",
            ],
        );
        assert!(
            restore.status.success(),
            "a listed backup is whole: {}",
            text(&restore)
        );
    }
    // While another backup of the store is being taken (its lock held here),
    // one more is refused, and what the other is writing is left alone.
    let lock = std::fs::File::open(dir.join(".berth/locks/backup.local.cache.lock")).unwrap();
    lock.lock().unwrap();
    let second = berth(&dir, &marker, &["backup", "cache"]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(
        text(&second).contains("another backup of `cache` in environment `local` is being taken"),
        "{}",
        text(&second)
    );
    assert!(cut.exists(), "the other backup's folder is not touched");
    drop(lock);
    let backup = berth(&dir, &marker, &["backup", "cache"]);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(
        !cut.exists(),
        "the next backup clears what a cut-short one left"
    );
    down(&dir, &marker);
}

/// The user the broker of the RabbitMQ test is made with, and its password:
/// quoted and escaped characters, as the tools must pass them on.
const RABBITMQ_LOGIN: (&str, &str) = ("keeper", r#"pa"ss\word"#);

/// The management API of the broker on `port`: `METHOD PATH [BODY]`, logged
/// in as `RABBITMQ_LOGIN` says.
fn rabbitmq_api(port: u16, method: &str, path: &str, body: Option<&str>) -> (bool, String) {
    let mut curl = Command::new("curl");
    let (user, password) = RABBITMQ_LOGIN;
    curl.args(["-fsS", "-u", &format!("{user}:{password}"), "-X", method])
        .arg(format!("http://127.0.0.1:{port}/api/{path}"));
    if let Some(body) = body {
        curl.args(["-H", "content-type: application/json", "-d", body]);
    }
    let output = curl.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn rabbitmq_definitions_are_backed_up_restored_and_drilled() {
    if missing("rabbitmq-server") || missing("curl") {
        return;
    }
    let [amqp, management] = free_ports(2)[..] else {
        unreachable!()
    };
    let (dir, marker) = project(
        "backup-rabbitmq",
        &format!(
            "name: q\nservices:\n  mq:\n    kind: rabbitmq\n    ports: {{ amqp: {amqp}, management: {management} }}\n    env: {{ RABBITMQ_DEFAULT_USER: {} }}\n    secrets: {{ RABBITMQ_DEFAULT_PASS: {{ file: mq-password }} }}\n    backup: {{ retention: 3 }}\n",
            RABBITMQ_LOGIN.0
        ),
    );
    std::fs::write(dir.join("mq-password"), RABBITMQ_LOGIN.1).unwrap();
    up(&dir, &marker);
    // The management API answers a moment after AMQP.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !rabbitmq_api(management, "GET", "overview", None).0 {
        assert!(std::time::Instant::now() < deadline, "no management API");
        std::thread::sleep(Duration::from_millis(200));
    }
    let made = [
        ("PUT", "queues/%2F/orders", r#"{"durable":true}"#),
        (
            "PUT",
            "exchanges/%2F/events",
            r#"{"type":"topic","durable":true}"#,
        ),
        (
            "POST",
            "bindings/%2F/e/events/q/orders",
            r#"{"routing_key":"order.*"}"#,
        ),
        (
            "PUT",
            "policies/%2F/ttl",
            r#"{"pattern":"^orders$","definition":{"message-ttl":60000},"apply-to":"queues"}"#,
        ),
    ];
    for (method, path, body) in made {
        assert!(
            rabbitmq_api(management, method, path, Some(body)).0,
            "{path}"
        );
    }
    let backup = berth(&dir, &marker, &["backup"]);
    assert!(backup.status.success(), "{}", text(&backup));
    let id = text(&backup);
    let definitions = std::fs::read_dir(dir.join(".berth/backups/local/mq"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("definitions.json"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("a definitions export: {id}"));
    assert!(
        std::fs::read_to_string(definitions)
            .unwrap()
            .contains("\"orders\"")
    );

    for path in [
        "queues/%2F/orders",
        "exchanges/%2F/events",
        "policies/%2F/ttl",
    ] {
        assert!(rabbitmq_api(management, "DELETE", path, None).0, "{path}");
    }
    let restore = berth(&dir, &marker, &["restore", "mq", "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(rabbitmq_api(management, "GET", "queues/%2F/orders", None).0);
    assert!(rabbitmq_api(management, "GET", "exchanges/%2F/events", None).0);
    assert!(rabbitmq_api(management, "GET", "policies/%2F/ttl", None).0);
    let (_, bindings) = rabbitmq_api(
        management,
        "GET",
        "exchanges/%2F/events/bindings/source",
        None,
    );
    assert!(bindings.contains("order.*"), "{bindings}");

    // A queue made since stays: a restore adds definitions, it removes none.
    assert!(rabbitmq_api(management, "PUT", "queues/%2F/later", Some("{}")).0);
    let again = berth(&dir, &marker, &["restore", "mq", "--yes"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(rabbitmq_api(management, "GET", "queues/%2F/later", None).0);

    let drill = berth(&dir, &marker, &["backup", "drill", "mq"]);
    assert!(drill.status.success(), "{}", text(&drill));
    assert!(text(&drill).contains("drilled `mq`"), "{}", text(&drill));

    // A berth killed mid-drill leaves no broker of the drill's behind.
    let mut drilling = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["backup", "drill", "mq"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let drills = dir.join(".berth/drills");
    let started = std::time::Instant::now();
    let broker = || {
        support::processes_naming(&drills)
            .iter()
            .any(|c| c == "beam.smp")
    };
    while !broker() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(broker(), "the drill's broker started");
    let _ = drilling.kill();
    let _ = drilling.wait();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !support::processes_naming(&drills).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(support::processes_naming(&drills), Vec::<String>::new());
    down(&dir, &marker);
    // Nothing berth wrote holds the password: backups, logs, state (the
    // broker's own database aside).
    let found = Command::new("grep")
        .args(["-rlF", "--exclude-dir=data", RABBITMQ_LOGIN.1])
        .arg(dir.join(".berth"))
        .output()
        .unwrap();
    assert_eq!(
        found.status.code(),
        Some(1),
        "grep found nothing: {}",
        String::from_utf8_lossy(&found.stdout)
    );
}

#[test]
fn a_deployment_that_runs_a_migration_waits_for_a_backup_within_the_rpo() {
    if missing("redis-server") || missing("redis-cli") {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let file = |migration: u32| {
        format!(
            "name: gate\nservices:\n  cache:\n    kind: redis\n    ports: {{ redis: {port} }}\n    backup: {{ rpo: 1h }}\n  migrate:\n    kind: job\n    local: {{ run: \"redis-cli -p {port} set migration {migration}\" }}\n    depends_on: {{ cache: healthy }}\n"
        )
    };
    let (dir, marker) = project("backup-gate", &file(1));
    up(&dir, &marker);
    std::fs::write(dir.join("berth.yaml"), file(2)).unwrap();

    let dry = berth(&dir, &marker, &["deploy", "--dry-run"]);
    assert!(
        text(&dry)
            .contains("backup first: `migrate` runs against `cache`, which has no backup (RPO 1h)"),
        "{}",
        text(&dry)
    );
    let refused = berth(&dir, &marker, &["deploy"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("take one first: `berth backup -e local cache`"),
        "{}",
        text(&refused)
    );
    assert_eq!(redis_cli(port, &["get", "migration"]), "1", "nothing ran");

    assert!(berth(&dir, &marker, &["backup", "cache"]).status.success());
    let deployed = berth(&dir, &marker, &["deploy"]);
    assert!(deployed.status.success(), "{}", text(&deployed));
    assert_eq!(redis_cli(port, &["get", "migration"]), "2");

    // An old backup is no backup within the RPO; the check can be skipped.
    std::fs::write(
        dir.join("berth.yaml"),
        file(3).replace("rpo: 1h", "rpo: 1s"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let refused = berth(&dir, &marker, &["deploy"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("older than its RPO of 1s"),
        "{}",
        text(&refused)
    );
    let skipped = berth(&dir, &marker, &["deploy", "--skip-backup-check"]);
    assert!(skipped.status.success(), "{}", text(&skipped));
    assert_eq!(redis_cli(port, &["get", "migration"]), "3");
    down(&dir, &marker);
}

#[test]
fn with_no_names_the_stores_that_run_are_backed_up_and_drilled() {
    if missing("redis-server") || missing("redis-cli") {
        return;
    }
    let [port, other] = free_ports(2)[..] else {
        unreachable!()
    };
    let (dir, marker) = project(
        "backup-running",
        &format!(
            "name: two\nservices:\n  cache: {{ kind: redis, ports: {{ redis: {port} }} }}\n  sessions: {{ kind: redis, ports: {{ redis: {other} }} }}\n"
        ),
    );
    let up = berth(&dir, &marker, &["up", "-d", "cache"]);
    assert!(up.status.success(), "{}", text(&up));
    let backup = berth(&dir, &marker, &["backup"]);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("note: `sessions` is not running: left out"));
    assert!(text(&backup).contains("backed up `cache`"));
    let named = berth(&dir, &marker, &["backup", "sessions"]);
    assert_eq!(named.status.code(), Some(2), "a store named must answer");
    let drill = berth(&dir, &marker, &["backup", "drill"]);
    assert!(drill.status.success(), "{}", text(&drill));
    assert!(text(&drill).contains("note: `sessions` has no backup to drill: left out"));
    assert!(text(&drill).contains("drilled `cache`"));
    down(&dir, &marker);
}

#[test]
fn the_scheduled_backup_is_the_backup_berth_restores() {
    let Some((dir, marker, port)) = redis_up("backup-scheduled") else {
        return;
    };
    redis_cli(port, &["mset", "a", "1", "b", "2", "c", "3"]);
    let folder = dir.join(".berth/backups/local/cache");
    std::fs::create_dir_all(&folder).unwrap();
    // What a run killed half-way leaves is cleared by the next.
    std::fs::create_dir_all(folder.join("20260101-000000.partial")).unwrap();
    for round in 0..3 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(1000));
        }
        support::scheduled_backup(berth_core::model::Kind::Redis, "cache", port, &folder, 2);
    }
    let list = berth(&dir, &marker, &["backup", "list", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let backups = list[0]["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 2, "retention 2 keeps two: {list}");
    let names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing else is left: {names:?}");

    redis_cli(port, &["flushall"]);
    let id = backups[1]["id"].as_str().unwrap();
    let restore = berth(&dir, &marker, &["restore", "cache", "--from", id, "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(
        text(&restore).contains("1 thing counted"),
        "its census: {}",
        text(&restore)
    );
    assert_eq!(redis_cli(port, &["mget", "a", "b", "c"]), "1\n2\n3");

    // Its checksums are checked as berth's own are.
    let file = folder.join(id).join("dump.rdb");
    let mut damaged = std::fs::read(&file).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    std::fs::write(&file, damaged).unwrap();
    let refused = berth(&dir, &marker, &["restore", "cache", "--from", id, "--yes"]);
    assert!(
        text(&refused).contains("is damaged: dump.rdb"),
        "{}",
        text(&refused)
    );
    down(&dir, &marker);
}
