//! `berth import compose` on compose files of public projects — as their crates
//! publish them on crates.io, fetched once by version and checksum — and the
//! result loaded, checked, rendered, and run with `berth up`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{assert_gone, berth, compose, compose_config, scratch, text};

/// A compose file a public project ships inside its published crate.
struct Public {
    krate: &'static str,
    version: &'static str,
    sha256: &'static str,
    path: &'static str,
}

const PUBLIC: [Public; 11] = [
    // Two dozen databases side by side, built with args, names with underscores.
    Public {
        krate: "sqlx",
        version: "0.8.6",
        sha256: "1fefb893899429669dcdd979aff487bd78f4064e5e7907e4269081e0ef7d97dc",
        path: "tests/docker-compose.yml",
    },
    // An application container and its search engine, list-form environment.
    Public {
        krate: "meilisearch-sdk",
        version: "0.30.0",
        sha256: "f620c9ed9b790cf292b66c8dab16f0e4aafb377583ec0e589da7c3ee81ff2038",
        path: "docker-compose.yml",
    },
    // A three-node Redpanda cluster with a console: entrypoints, long commands.
    Public {
        krate: "samsa",
        version: "0.1.8",
        sha256: "24c94daa6ae3559c0e981afe556056c611901ad74079e527b81af6231c0f7c98",
        path: "docker-compose.yaml",
    },
    // ZooKeeper and three Kafka brokers, each on two ports.
    Public {
        krate: "rskafka",
        version: "0.6.0",
        sha256: "849b87417a191e37e16b8893eba8928bbd10e1989e6b57c4f8531549eaa29bdc",
        path: "docker-compose-kafka.yml",
    },
    // A named project; an image tag from the shell with a default.
    Public {
        krate: "clickhouse",
        version: "0.15.3",
        sha256: "d6ad2112cf4ad543ceed12e48b779e82e8f3a8172374cac98d59e59feda35c69",
        path: "docker-compose.yml",
    },
    // Kafka in KRaft mode with a schema registry: long lists of settings.
    Public {
        krate: "rdkafka",
        version: "0.39.0",
        sha256: "d7956f9ac12b5712e50372d9749a3102f4810a8d42481c5eae3748d36d585bcf",
        path: "docker-compose.yaml",
    },
    // Databases of several versions side by side, in a folder of their own.
    Public {
        krate: "sea-orm",
        version: "2.0.4",
        sha256: "40bc08e0aa1963295a30473f98d9b4c9c2b0b3a028381e0143cb2647d0a59a32",
        path: "build-tools/docker-compose.yml",
    },
    // Three SQL Servers built for another platform, all on one host port.
    Public {
        krate: "tiberius",
        version: "0.13.0",
        sha256: "e07324791de2bdaed058af4aa433a0b5ec5c0beac407a9797419c19805df2415",
        path: "docker-compose.yml",
    },
    // `links:`, build args from the shell, a variable that is not set.
    Public {
        krate: "kafka",
        version: "0.10.0",
        sha256: "2054ba4edcb4dcda4209e138c7e88caf26d4a325b3db76fbdb6ca5eecc23e426",
        path: "tests/docker-compose.yml",
    },
    // A shell entrypoint whose command writes `$$VAR` for the container's shell.
    Public {
        krate: "samsa",
        version: "0.1.8",
        sha256: "24c94daa6ae3559c0e981afe556056c611901ad74079e527b81af6231c0f7c98",
        path: "docker-compose-kafka-kraft.yaml",
    },
    Public {
        krate: "rskafka",
        version: "0.6.0",
        sha256: "849b87417a191e37e16b8893eba8928bbd10e1989e6b57c4f8531549eaa29bdc",
        path: "docker-compose-redpanda.yml",
    },
];

/// The compose file, fetched from crates.io into the target directory once;
/// none, said on stderr, where crates.io cannot be reached.
fn fetch(public: &Public) -> Option<PathBuf> {
    // One download at a time: two tests fetching one archive would write it together.
    static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("public-compose");
    let root = format!("{}-{}", public.krate, public.version);
    let file = dir.join(&root).join(public.path);
    if file.is_file() {
        return Some(file);
    }
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(format!("{root}.crate"));
    let url = format!(
        "https://static.crates.io/crates/{}/{root}.crate",
        public.krate
    );
    let run = |program: &str, args: &[&str]| {
        let output = Command::new(program)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let archive_name = archive.file_name().unwrap().to_str().unwrap();
    let download = Command::new("curl")
        .args(["-sSfL", "--retry", "3", "-o", archive_name, &url])
        .current_dir(&dir)
        .output();
    if !download.as_ref().is_ok_and(|o| o.status.success()) {
        support::not_run(&format!(
            "cannot fetch {url}, where the public compose files come from"
        ));
        return None;
    }
    let sum = run("sha256sum", &[archive_name]);
    assert!(sum.starts_with(public.sha256), "{url} changed: {sum}");
    run(
        "tar",
        &["xzf", archive_name, &format!("{root}/{}", public.path)],
    );
    Some(file)
}

/// What berth means to run otherwise than compose did, each said by a note.
fn on_purpose(krate: &str, difference: &str) -> bool {
    match krate {
        // Three services on host port 1433 cannot run at once under compose.
        "tiberius" => difference.contains(": ports: compose has {(\"\", \"1433\", 1433)}"),
        _ => false,
    }
}

#[test]
fn public_compose_files_run_the_same_system_as_compose_read_them() {
    for public in &PUBLIC {
        let Some((dir, notes)) = import(public, "same") else {
            return;
        };
        let file = fetch(public).unwrap();
        let (folder, name) = (file.parent().unwrap(), file.file_name().unwrap());
        let Some(differences) =
            compose_config::rendered_differences(folder, &[name.to_str().unwrap()], &dir, &notes)
        else {
            return;
        };
        let unexpected: Vec<&String> = differences
            .iter()
            .filter(|d| !on_purpose(public.krate, d))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{} {}: {unexpected:#?}\n{notes}",
            public.krate,
            public.path
        );
        if public.krate == "tiberius" {
            assert!(notes.contains("the two cannot run at once"), "{notes}");
        }
    }
}

#[test]
fn public_compose_files_come_up_locally_and_go_down_leaving_nothing() {
    for public in &PUBLIC {
        let Some((dir, _)) = import(public, "up") else {
            return;
        };
        let up = berth(&dir, &marker(&dir), &["up", "-d"]);
        let down = berth(&dir, &marker(&dir), &["down"]);
        assert!(
            up.status.success(),
            "{} {}: {}",
            public.krate,
            public.path,
            text(&up)
        );
        assert!(down.status.success(), "{}: {}", public.krate, text(&down));
        assert_gone(&marker(&dir));
    }
}

fn marker(dir: &Path) -> String {
    format!("{}-import", dir.display())
}

/// Imports `public` into a scratch directory of the test `purpose`; returns
/// it and the notes.
fn import(public: &Public, purpose: &str) -> Option<(PathBuf, String)> {
    let file = fetch(public)?;
    let dir = scratch(&format!(
        "import-{purpose}-{}-{}",
        public.krate,
        public.path.replace(['/', '.'], "-")
    ));
    let output = berth(
        &dir,
        &marker(&dir),
        &["import", "compose", file.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}: {}",
        public.krate,
        text(&output)
    );
    Some((dir, String::from_utf8_lossy(&output.stderr).into_owned()))
}

#[test]
fn public_compose_files_import_and_the_result_loads_checks_and_renders() {
    for public in &PUBLIC {
        let Some((dir, notes)) = import(public, "check") else {
            return;
        };
        let berth_yaml = std::fs::read_to_string(dir.join("berth.yaml")).unwrap();
        assert!(
            notes.lines().all(|l| l.starts_with("note: ")
                && l.contains(&format!("{}:", public.path.rsplit('/').next().unwrap()))),
            "{}: every note points into the compose file:\n{notes}",
            public.krate
        );
        let check = berth(&dir, &marker(&dir), &["check"]);
        assert!(
            matches!(check.status.code(), Some(0 | 1)),
            "{}: {}",
            public.krate,
            text(&check)
        );
        assert!(
            berth(&dir, &marker(&dir), &["plan"]).status.success(),
            "{}",
            public.krate
        );
        let out = dir.join("rendered");
        let render = berth(
            &dir,
            &marker(&dir),
            &["-e", "docker", "render", "--to", "all", "--dir", "rendered"],
        );
        assert!(
            render.status.success(),
            "{}: {}",
            public.krate,
            text(&render)
        );
        if let Some(argv) = compose() {
            let config = Command::new(argv[0])
                .args(&argv[1..])
                .args([
                    "-f",
                    "compose.data.yaml",
                    "-f",
                    "compose.services.yaml",
                    "config",
                    "-q",
                ])
                .current_dir(out.join("compose"))
                .output()
                .unwrap();
            assert!(
                config.status.success(),
                "{}: {}",
                public.krate,
                text(&config)
            );
        }
        match (public.krate, public.path) {
            ("sqlx", _) => {
                assert!(
                    notes.contains("service `mysql_8` is named `mysql-8`"),
                    "{notes}"
                );
                assert!(
                    berth_yaml.contains("  postgres-17:\n    build:\n"),
                    "built from a Dockerfile, it stays a service: {berth_yaml}"
                );
                assert!(
                    notes.contains("its stand-in listens on 3307"),
                    "only the local stand-ins move shared ports: {notes}"
                );
                assert!(berth_yaml.contains("dockerfile: mysql/Dockerfile"));
            }
            ("meilisearch-sdk", _) => {
                assert!(
                    berth_yaml.contains(
                        "MEILISEARCH_URL: http://${meilisearch.host}:${meilisearch.port}"
                    ),
                    "{berth_yaml}"
                );
                assert!(
                    notes.contains("`MEILI_MASTER_KEY` holds its value inline"),
                    "{notes}"
                );
                assert!(!notes.contains("masterKey"), "a note never repeats a value");
            }
            ("samsa", "docker-compose.yaml") => {
                assert!(berth_yaml.contains("    entrypoint:\n"), "{berth_yaml}")
            }
            ("rskafka", "docker-compose-kafka.yml") => assert!(
                berth_yaml
                    .contains("KAFKA_CFG_ZOOKEEPER_CONNECT: ${zookeeper.host}:${zookeeper.port}"),
                "{berth_yaml}"
            ),
            ("clickhouse", _) => {
                assert!(
                    berth_yaml.starts_with("# Imported")
                        && berth_yaml.contains("\nname: clickhouse-rs\n")
                );
                assert!(
                    berth_yaml
                        .contains("image: docker.io/clickhouse/clickhouse-server:latest-alpine"),
                    "{berth_yaml}"
                );
                assert!(notes.contains("`ulimits` not carried over"), "{notes}");
            }
            _ => {}
        }
    }
}

#[test]
fn an_imported_project_runs_locally_with_berth_up() {
    let public = PUBLIC.iter().find(|p| p.krate == "rskafka").unwrap();
    let Some((dir, _)) = import(public, "rskafka") else {
        return;
    };
    let up = berth(&dir, &marker(&dir), &["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let status = berth(&dir, &marker(&dir), &["status", "-o", "json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let instances = status["instances"].as_array().cloned().unwrap_or_default();
        if instances.len() == 5 && instances.iter().all(|i| i["ready"] == true) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let down = berth(&dir, &marker(&dir), &["down"]);
    assert!(
        ready,
        "ZooKeeper, three brokers and the proxy did not all become ready"
    );
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(&marker(&dir));
}

#[test]
fn import_never_overwrites_a_berth_yaml() {
    let dir = scratch("import-existing");
    std::fs::write(dir.join("berth.yaml"), "name: mine\n").unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  web: { image: \"nginx:1.27\" }\n",
    )
    .unwrap();
    let output = berth(&dir, &marker(&dir), &["import", "compose", "compose.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("berth.yaml already exists"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("berth.yaml")).unwrap(),
        "name: mine\n"
    );
}
