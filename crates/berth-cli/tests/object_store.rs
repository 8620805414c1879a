//! Backups kept in an S3-compatible object store (`support::s3`), with a real
//! Redis under `berth up -d`. Taken, listed, restored,
//! drilled and retained through the store alone; a damaged object refused;
//! wrong and missing credentials and a store that does not answer each said,
//! and the secret key never printed.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::s3::{KEY, SECRET, Server};
use support::{berth_with, free_ports, missing, redis_cli, scratch, text};

/// Sets `key` to `bytes` of random data: what no compression shrinks.
fn random_value(port: u16, key: &str, bytes: usize) {
    let mut data = vec![0; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut data)
        .unwrap();
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "-x", "set", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &data).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

/// Every file under `folder`, as paths relative to it.
fn files_under(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(folder).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

fn yaml(redis: u16, bucket: &str, endpoint: &str) -> String {
    format!(
        "name: cache\nenvironments:\n  local:\n    backups: {{ to: s3://{bucket}/team, endpoint: {endpoint} }}\nservices:\n  cache:\n    kind: redis\n    ports: {{ redis: {redis} }}\n    backup: {{ retention: 2 }}\n"
    )
}

#[test]
fn backups_go_to_an_object_store_and_come_back_from_it() {
    if missing("s3s-fs") || missing("redis-server") || missing("redis-cli") {
        return;
    }
    let [redis, s3] = free_ports(2)[..] else {
        unreachable!()
    };
    let dir = scratch("object-store");
    let root: PathBuf = dir.join("s3-root");
    std::fs::create_dir_all(root.join("backups")).unwrap();
    let _server = Server::start(&root, s3);
    let endpoint = format!("http://127.0.0.1:{s3}");
    std::fs::write(dir.join("berth.yaml"), yaml(redis, "backups", &endpoint)).unwrap();
    let marker = format!("{}-object-store", dir.display());
    let credentials = [
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ];
    let run = |args: &[&str]| berth_with(&dir, &marker, args, &credentials);
    let mut said = String::new();

    let up = run(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    redis_cli(redis, &["mset", "a", "1", "b", "2"]);
    // Beyond one request's size: the dump goes in parts.
    for n in 0..5 {
        random_value(redis, &format!("big:{n}"), 8 << 20);
    }

    let backup = run(&["backup"]);
    said += &text(&backup);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(
        text(&backup).contains("in s3://backups/team/local/cache/"),
        "it says where: {}",
        text(&backup)
    );
    let stored = files_under(&root.join("backups"));
    assert_eq!(stored.len(), 2, "a dump and a manifest: {stored:?}");
    assert!(stored[0].starts_with("team/local/cache/") && stored[0].ends_with("dump.rdb"));
    assert!(stored[1].ends_with("manifest.json"));
    let dump = root.join("backups").join(&stored[0]);
    assert!(std::fs::metadata(&dump).unwrap().len() > 40 << 20);
    assert!(
        files_under(&dir.join(".berth/backups")).is_empty(),
        "nothing is kept on this machine"
    );

    // Restored from the store alone.
    redis_cli(redis, &["flushall"]);
    let restore = run(&["restore", "cache", "--yes"]);
    said += &text(&restore);
    assert!(restore.status.success(), "{}", text(&restore));
    assert_eq!(redis_cli(redis, &["mget", "a", "b"]), "1\n2");
    assert_eq!(
        redis_cli(redis, &["strlen", "big:4"]),
        (8 << 20).to_string()
    );
    assert!(
        files_under(&dir.join(".berth/fetched")).is_empty(),
        "what was fetched is gone"
    );

    let drill = run(&["backup", "drill", "cache"]);
    said += &text(&drill);
    assert!(drill.status.success(), "{}", text(&drill));
    assert!(root.join("backups/team/local/cache/drills.json").is_file());

    // Retention counts what is in the store.
    for _ in 0..2 {
        let again = run(&["backup", "cache"]);
        assert!(again.status.success(), "{}", text(&again));
    }
    let list = run(&["backup", "list", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let backups = list[0]["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 2, "retention 2: {list}");
    assert!(list[0]["last_drill"]["rto_seconds"].as_f64().unwrap() > 0.0);
    let stored = files_under(&root.join("backups"));
    assert_eq!(stored.len(), 5, "two backups and the drills: {stored:?}");

    // An object changed in the store is refused, and nothing restored.
    let newest = backups[1]["id"].as_str().unwrap();
    let object = root.join(format!("backups/team/local/cache/{newest}/dump.rdb"));
    let mut damaged = std::fs::read(&object).unwrap();
    damaged[1000] ^= 0xff;
    std::fs::write(&object, damaged).unwrap();
    redis_cli(redis, &["set", "a", "changed"]);
    let refused = run(&["restore", "cache", "--yes"]);
    said += &text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("is damaged: dump.rdb"),
        "{}",
        text(&refused)
    );
    assert_eq!(redis_cli(redis, &["get", "a"]), "changed");

    // What goes wrong with the store itself is said, with what to do.
    let wrong = berth_with(
        &dir,
        &marker,
        &["backup", "list"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", "not-it"),
        ],
    );
    said += &text(&wrong);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong).contains("403") && text(&wrong).contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        text(&wrong)
    );
    let none = berth_with(
        &dir,
        &marker,
        &["backup", "list"],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert!(
        text(&none).contains("no credentials") && text(&none).contains("AWS_ACCESS_KEY_ID"),
        "{}",
        text(&none)
    );
    let [closed] = free_ports(1)[..] else {
        unreachable!()
    };
    let away = format!("http://127.0.0.1:{closed}");
    std::fs::write(dir.join("berth.yaml"), yaml(redis, "backups", &away)).unwrap();
    let unreachable = run(&["backup", "list"]);
    assert!(
        text(&unreachable).contains("cannot reach the object store at"),
        "{}",
        text(&unreachable)
    );
    assert!(!said.contains(SECRET), "the secret key is never printed");

    std::fs::write(dir.join("berth.yaml"), yaml(redis, "backups", &endpoint)).unwrap();
    let down = run(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    support::assert_gone(&marker);
}

#[test]
fn an_object_store_written_wrong_is_pointed_at() {
    let dir = scratch("object-store-wrong");
    for (store, said) in [
        ("{ to: backups/team }", "does not start with s3://"),
        ("{ to: s3://Backups }", "3 to 63 lowercase"),
        (
            "{ to: s3://backups, endpoint: 127.0.0.1:9000 }",
            "is not an endpoint",
        ),
        ("{ to: s3://backups, bucket: x }", "bucket"),
    ] {
        std::fs::write(
            dir.join("berth.yaml"),
            format!("name: cache\nenvironments:\n  local:\n    backups: {store}\nservices:\n  cache: {{ kind: redis }}\n"),
        )
        .unwrap();
        let check = berth_with(&dir, "object-store-wrong", &["check"], &[]);
        assert_eq!(check.status.code(), Some(2), "{store}: {}", text(&check));
        assert!(text(&check).contains(said), "{store}: {}", text(&check));
        assert!(
            text(&check).contains("berth.yaml:4:"),
            "{store}: {}",
            text(&check)
        );
    }
}

#[test]
fn the_scheduled_backups_go_to_the_same_object_store() {
    if missing("s3s-fs") || missing("aws") || missing("redis-server") || missing("redis-cli") {
        return;
    }
    let [redis, s3] = free_ports(2)[..] else {
        unreachable!()
    };
    let dir = scratch("object-store-scheduled");
    let root = dir.join("s3-root");
    std::fs::create_dir_all(root.join("backups")).unwrap();
    let _server = Server::start(&root, s3);
    let endpoint = format!("http://127.0.0.1:{s3}");
    std::fs::write(dir.join("berth.yaml"), yaml(redis, "backups", &endpoint)).unwrap();
    let marker = format!("{}-object-store", dir.display());
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home = home.display().to_string();
    let credentials = [
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
        ("HOME", home.as_str()),
    ];
    let run = |args: &[&str]| berth_with(&dir, &marker, args, &credentials);
    let up = run(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    redis_cli(redis, &["mset", "a", "1", "b", "2"]);

    // The claim's folder, as the CronJob's two containers share it.
    let claim = dir.join("claim");
    let project = berth_core::load_str("berth.yaml", &yaml(redis, "backups", &endpoint)).unwrap();
    let ecosystem = project.ecosystem(None).unwrap();
    let store = ecosystem.environment.backups.as_ref().unwrap();
    let count: berth_core::model::Backup =
        serde_json::from_value(serde_json::json!({ "retention": 2 })).unwrap();
    let age: berth_core::model::Backup =
        serde_json::from_value(serde_json::json!({ "retention": 2, "keep_for": "1s" })).unwrap();
    let list = || {
        let list = run(&["backup", "list", "-o", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
        list[0]["backups"].as_array().unwrap().len()
    };
    for round in 0..4 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        // The last round lets go by age as well: all but the newest.
        let backup = if round < 3 { &count } else { &age };
        support::scheduled_backup(berth_core::model::Kind::Redis, "cache", redis, &claim, 5);
        let script = berth_render::uploaded_backups(
            &berth_render::Scheduled {
                environment: "local",
                service: "cache",
                store: berth_core::model::DataStore::of(berth_core::model::Kind::Redis).unwrap(),
                host: "127.0.0.1",
                port: redis,
            },
            backup,
            store,
            &claim.display().to_string(),
        );
        let sent = Command::new("sh")
            .args(["-c", &script])
            .envs(credentials)
            .output()
            .unwrap();
        assert!(
            sent.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&sent.stderr)
        );
        assert!(
            files_under(&claim).is_empty(),
            "what was sent left the claim"
        );
        if round == 2 {
            assert_eq!(list(), 2, "retention 2, counted in the bucket");
            assert_eq!(files_under(&root.join("backups")).len(), 4);
        }
    }
    assert_eq!(list(), 1, "keep_for 1s leaves the newest alone");

    redis_cli(redis, &["flushall"]);
    let restore = run(&["restore", "cache", "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert_eq!(redis_cli(redis, &["mget", "a", "b"]), "1\n2");
    let down = run(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    support::assert_gone(&marker);
}
