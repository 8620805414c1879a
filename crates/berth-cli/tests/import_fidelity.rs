//! `berth import compose` gives the same system: for each project, `docker
//! compose config` of the original files and of what `berth render --to
//! compose` writes from the imported berth.yaml agree, service by service, on
//! image, argv, published ports, environment, dependencies, healthchecks and
//! volume targets. Each project here is written for one thing real projects
//! do; the differences berth means to make (a data store's probe and volume,
//! UDP ports) are each named with the note that says so.

mod support;

use std::path::Path;

use support::compose_config;
use support::{berth, scratch, text};

/// Imports the files in `dir`, renders them for compose into `out/`, and
/// returns the differences between the two configs and the import's notes.
fn same_system(dir: &Path, files: &[&str]) -> Option<(Vec<String>, String)> {
    let mut args = vec!["import", "compose"];
    args.extend_from_slice(files);
    let import = berth(dir, "import", &args);
    assert!(import.status.success(), "{}", text(&import));
    let notes = String::from_utf8_lossy(&import.stderr).into_owned();
    let differences = compose_config::rendered_differences(dir, files, dir, &notes)?;
    let names = |files: &[&str]| {
        let compose = support::compose().expect("compose is there");
        let config = compose_config::config(&compose, dir, files).unwrap();
        compose_config::project_name(&config).map(str::to_owned)
    };
    assert_eq!(
        names(files),
        names(&["out/compose.data.yaml", "out/compose.services.yaml"]),
        "the project keeps its name, so its containers and volumes keep theirs"
    );
    Some((differences, notes))
}

/// `same_system` where the two must agree in full: the notes and the berth.yaml.
fn agrees(dir: &Path, files: &[&str]) -> Option<(String, String)> {
    let (differences, notes) = same_system(dir, files)?;
    assert!(differences.is_empty(), "{differences:#?}\n{notes}");
    Some((notes, imported(dir)))
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn imported(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("berth.yaml")).unwrap()
}

#[test]
fn commands_are_words_for_the_entrypoint_and_entrypoints_stay_apart() {
    let dir = scratch("fidelity-argv");
    write(
        &dir,
        &[(
            "compose.yaml",
            r#"
services:
  traefik:
    image: traefik:v3.1
    command: --api.insecure=true --providers.docker "--entrypoints.web.address=:80"
    ports: ["80:80", "127.0.0.1:8080:8080"]
    labels:
      traefik.http.routers.api.rule: Host(`traefik.localhost`)
      tier: edge
  db:
    image: postgres:16
    command: postgres -c max_connections=200
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
  result:
    image: node:20
    user: "1000:0"
    working_dir: /usr/local/app
    entrypoint: nodemon --inspect=0.0.0.0 server.js
    command: ["--watch", "src"]
    ports: ["8081:80"]
"#,
        )],
    );
    let Some((_, yaml)) = agrees(&dir, &["compose.yaml"]) else {
        return;
    };
    assert!(
        yaml.contains("    command:\n    - --api.insecure=true\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "    annotations:\n      traefik.http.routers.api.rule: \"Host(`traefik.localhost`)\""
        ),
        "{yaml}"
    );
    assert!(yaml.contains("    labels:\n      tier: edge"), "{yaml}");
    let kubernetes = berth(
        &dir,
        "import",
        &["-e", "docker", "render", "--to", "kubernetes"],
    );
    let objects = String::from_utf8_lossy(&kubernetes.stdout);
    assert!(
        objects.contains("      - args:\n        - postgres\n        - -c\n"),
        "a compose command is Kubernetes' args: {objects}"
    );
    assert!(objects.contains("command:\n        - nodemon"), "{objects}");
    assert!(
        objects.contains("securityContext:\n          runAsGroup: 0\n          runAsUser: 1000"),
        "{objects}"
    );
    assert!(objects.contains("workingDir: /usr/local/app"), "{objects}");
}

#[test]
fn override_files_merge_key_by_key_and_extends_resolves() {
    let dir = scratch("fidelity-merge");
    write(
        &dir,
        &[
            (
                "compose.yaml",
                r#"
services:
  base:
    image: busybox:1.36
    environment: { SHARED: "1", LEVEL: info }
    profiles: [never]
  db:
    image: postgres:16
    healthcheck: { test: ["CMD", "pg_isready"] }
  cache:
    image: redis:7
  api:
    extends: base
    build: { context: ./api, dockerfile: Dockerfile.dev }
    profiles: !reset []
    depends_on:
      db: { condition: service_healthy }
      cache: { condition: service_started }
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost:8000/health"]
      interval: 5s
    ports: ["8000:8000"]
    volumes: ["./api:/app", "api-cache:/cache"]
    deploy:
      resources: { limits: { cpus: "0.5", memory: 1.5g } }
  worker:
    extends: { file: common.yaml, service: worker }
volumes:
  api-cache:
"#,
            ),
            (
                "compose.override.yaml",
                r#"
services:
  api:
    build: { target: dev }
    environment: [LEVEL=debug]
    ports: ["9229:9229"]
    volumes: ["./src:/app"]
"#,
            ),
            (
                "common.yaml",
                r#"
services:
  worker:
    image: busybox:1.36
    command: ["sh", "-c", "sleep 1000"]
    environment: { QUEUE: jobs }
"#,
            ),
        ],
    );
    let Some((notes, yaml)) = agrees(&dir, &["compose.yaml", "compose.override.yaml"]) else {
        return;
    };
    assert!(
        yaml.contains(
            "      context: ./api\n      dockerfile: Dockerfile.dev\n      target: dev\n"
        ),
        "the override keeps the context: {yaml}"
    );
    assert!(yaml.contains("memory_limit: 1536Mi"), "{yaml}");
    assert!(notes.contains("keeps its data in no volume"), "{notes}");
}

#[test]
fn ports_keep_their_container_port_host_port_and_address() {
    let dir = scratch("fidelity-ports");
    write(
        &dir,
        &[
            (".env", "WEB_PORT=8088\n"),
            (
                "compose.yaml",
                r#"
services:
  db:
    image: postgres:16
    environment: { POSTGRES_HOST_AUTH_METHOD: trust }
    volumes: ["db_data:/var/lib/postgresql/data"]
    healthcheck: { test: ["CMD", "pg_isready"] }
  vote:
    image: example/vote:1
    ports: ["${WEB_PORT:-8080}:80", "127.0.0.1:3000:3000"]
  result:
    image: example/result:1
    ports: ["8081:${ADMIN_PORT:-80}", "9000"]
    depends_on: [db]
volumes:
  db_data:
"#,
            ),
        ],
    );
    let Some((notes, yaml)) = agrees(&dir, &["compose.yaml"]) else {
        return;
    };
    assert!(
        yaml.contains("db_data:/var/lib/postgresql/data"),
        "the store keeps its volume: {yaml}"
    );
    assert!(
        yaml.contains("    publish: {}\n"),
        "a store compose did not publish stays unpublished: {yaml}"
    );
    assert!(
        notes.contains("its stand-in listens on 8081"),
        "only the local runtime moves shared ports: {notes}"
    );
    let down_the_tree = berth(&dir, "import", &["check"]);
    assert!(
        matches!(down_the_tree.status.code(), Some(0 | 1)),
        "{}",
        text(&down_the_tree)
    );
}

#[test]
fn valid_compose_that_strict_readers_refuse_imports() {
    let dir = scratch("fidelity-lenient");
    write(
        &dir,
        &[
            (".env", "HEALTHCHECK_INTERVAL=15s\nAPP_TAG=2.7\n"),
            (
                "compose.yaml",
                r#"
x-health: &health
  interval: ${HEALTHCHECK_INTERVAL}
  retries: 5
services:
  web:
    image: example/web:${APP_TAG:-1.0}
    healthcheck:
      <<: *health
      test: [
        "CMD-SHELL",
        "wget -q -O- http://localhost:80/ || exit 1",
      ]
    environment:
      DATA: /srv/$$USER/data
  api:
    image: example/api:${APP_TAG:-1.0}
    healthcheck:
      <<: *health
      test: ["CMD", "true"]
  proxy:
    image: nginx:1.27
    depends_on:
      web: { condition: service_healthy }
      cache: { condition: service_healthy }
  cache:
    image: memcached:1.6
"#,
            ),
        ],
    );
    let Some((differences, notes)) = same_system(&dir, &["compose.yaml"]) else {
        return;
    };
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|d| !d.starts_with("proxy: depends_on"))
        .collect();
    assert!(unexpected.is_empty(), "{differences:#?}\n{notes}");
    let yaml = imported(&dir);
    assert!(
        yaml.contains("image: example/web:2.7"),
        ".env wins over the default: {yaml}"
    );
    assert!(yaml.contains("period: 15s"), "{yaml}");
    assert!(yaml.contains("DATA: /srv/$USER/data"), "{yaml}");
    assert!(
        notes.contains("waits for `cache` to be healthy by the healthcheck of its image"),
        "{notes}"
    );
    assert_eq!(
        notes.matches("compose.yaml:4:3").count(),
        0,
        "no note for what was carried over: {notes}"
    );
}

#[test]
fn profiles_stay_out_of_a_plain_up() {
    let dir = scratch("fidelity-profiles");
    write(
        &dir,
        &[(
            "compose.yaml",
            r#"
services:
  web:
    image: example/web:1
    ports: ["8080:8080"]
  seed:
    image: example/seed:1
    profiles: [seed]
    depends_on: [web]
"#,
        )],
    );
    if agrees(&dir, &["compose.yaml"]).is_none() {
        return;
    }
    let plan = berth(&dir, "import", &["plan"]);
    let plan = text(&plan);
    assert!(plan.contains("web") && !plan.contains("seed"), "{plan}");
    let seeded = berth(&dir, "import", &["plan", "seed"]);
    assert!(text(&seeded).contains("seed"), "{}", text(&seeded));
}

#[test]
fn a_dangling_dependency_is_an_error_in_the_compose_file() {
    let dir = scratch("fidelity-dangling");
    write(
        &dir,
        &[(
            "compose.yaml",
            "services:\n  Backend:\n    image: example/api:1\n  frontend:\n    image: example/web:1\n    depends_on:\n      - backend\n",
        )],
    );
    let import = berth(&dir, "import", &["import", "compose", "compose.yaml"]);
    assert_eq!(import.status.code(), Some(2), "{}", text(&import));
    let output = text(&import);
    assert!(
        output.contains("`frontend` depends on `backend`, which is not a service of these files"),
        "{output}"
    );
    assert!(output.contains("compose.yaml:7:9"), "{output}");
    assert!(!dir.join("berth.yaml").exists(), "nothing is written");
}

#[test]
fn an_import_from_another_folder_leads_its_paths_back() {
    let dir = scratch("fidelity-folder");
    write(
        &dir,
        &[
            (
                "shop/compose.yaml",
                "services:\n  api:\n    build: ./api\n    env_file: api.env\n    volumes: [\"./conf:/etc/api:ro\"]\n",
            ),
            ("shop/api.env", "MODE=prod\nAPI_TOKEN=not-for-a-configmap\n"),
        ],
    );
    let import = berth(&dir, "import", &["import", "compose", "shop/compose.yaml"]);
    assert!(import.status.success(), "{}", text(&import));
    let yaml = imported(&dir);
    assert!(yaml.contains("context: ./shop/api"), "{yaml}");
    assert!(yaml.contains("- ./shop/api.env"), "{yaml}");
    assert!(yaml.contains("- ./shop/conf:/etc/api:ro"), "{yaml}");
    let render = berth(
        &dir,
        "import",
        &[
            "-e",
            "docker",
            "render",
            "--to",
            "compose",
            "--dir",
            "out/compose",
        ],
    );
    assert!(render.status.success(), "{}", text(&render));
    let services = std::fs::read_to_string(dir.join("out/compose/compose.services.yaml")).unwrap();
    assert!(
        services.contains("context: ../../shop/api"),
        "paths lead back from the output folder: {services}"
    );
}

#[test]
fn the_local_stand_ins_come_up_without_secrets_or_image_healthchecks() {
    let dir = scratch("fidelity-local");
    write(
        &dir,
        &[(
            "compose.yaml",
            r#"
services:
  db:
    image: postgres:16
    environment: [POSTGRES_PASSWORD]
    healthcheck: { test: ["CMD-SHELL", "pg_isready -U postgres"] }
  worker:
    image: example/worker:1
    environment: { API_TOKEN: "${API_TOKEN}" }
    healthcheck: { test: ["CMD", "/bin/healthy"] }
    depends_on: { db: { condition: service_healthy } }
  web:
    image: example/web:1
    ports: ["80:80"]
    depends_on: { worker: { condition: service_healthy } }
"#,
        )],
    );
    let import = berth(&dir, "import", &["import", "compose", "compose.yaml"]);
    assert!(import.status.success(), "{}", text(&import));
    let marker = format!("{}-up", dir.display());
    let up = berth(&dir, &marker, &["up", "-d"]);
    let down = berth(&dir, &marker, &["down"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(down.status.success(), "{}", text(&down));
    support::assert_gone(&marker);
}

/// The notes name what the comparison leaves out, so that a difference
/// berth makes on purpose is never silent.
#[test]
fn what_is_not_carried_over_is_noted_once_at_its_place() {
    let dir = scratch("fidelity-notes");
    write(
        &dir,
        &[(
            "compose.yaml",
            r#"
name: My_Shop
x-common: &common
  ulimits: { nofile: 65536 }
  restart: on-failure
services:
  a:
    <<: *common
    image: example/a:1
    ports: ["53:53/udp"]
    deploy:
      restart_policy: { condition: on-failure, max_attempts: 3, delay: 5s }
      resources:
        reservations:
          devices: [{ driver: nvidia, count: 1, capabilities: [gpu] }]
    build:
      context: .
      args: [VERSION]
  b:
    <<: *common
    image: example/b:1
    depends_on:
      a: { condition: service_started, required: false }
volumes:
  shared: { external: true }
"#,
        )],
    );
    let import = berth(&dir, "import", &["import", "compose", "compose.yaml"]);
    assert!(import.status.success(), "{}", text(&import));
    let notes = String::from_utf8_lossy(&import.stderr).into_owned();
    assert_eq!(
        notes.matches("`ulimits` not carried over").count(),
        1,
        "{notes}"
    );
    for expected in [
        "port 53/udp not carried over",
        "reservations `devices` not carried over",
        "build arg `VERSION` has no value",
        "`required: false` not carried over",
        "compose named it `my_shop`",
        "volume `shared` is the Engine's `shared`",
    ] {
        assert!(notes.contains(expected), "{expected}: {notes}");
    }
    let yaml = imported(&dir);
    assert!(
        yaml.contains("policy: on_failure\n      max_restarts: 3\n      backoff: 5s"),
        "{yaml}"
    );
}

#[test]
fn included_files_keep_their_own_folders_and_tags_override_or_reset() {
    let dir = scratch("fidelity-include");
    write(
        &dir,
        &[
            (
                "compose.yaml",
                r#"
include:
  - infra/compose.yaml
services:
  api:
    image: example/api:1
    environment: { A: "1", B: "2" }
    ports: ["8080:80"]
    depends_on: [db]
"#,
            ),
            (
                "compose.override.yaml",
                r#"
services:
  api:
    environment: !override
      ONLY: "1"
    ports: !reset []
"#,
            ),
            (
                "infra/compose.yaml",
                r#"
services:
  db:
    image: postgres:16
    env_file: db.env
    volumes: ["./data:/var/lib/postgresql/data"]
    healthcheck: { test: ["CMD", "pg_isready"] }
"#,
            ),
            ("infra/db.env", "POSTGRES_DB=shop\n"),
        ],
    );
    let Some((_, yaml)) = agrees(&dir, &["compose.yaml", "compose.override.yaml"]) else {
        return;
    };
    assert!(yaml.contains("- ./infra/db.env"), "{yaml}");
    assert!(
        yaml.contains("- ./infra/data:/var/lib/postgresql/data"),
        "{yaml}"
    );
    assert!(
        yaml.contains("    env:\n      ONLY: \"1\"\n") && !yaml.contains("B: \"2\""),
        "{yaml}"
    );
}

/// A value berth cannot read is a note at its place and the rest imports; a
/// file compose itself would refuse is an error in that file, and nothing is
/// written.
#[test]
fn bad_values_are_notes_and_bad_files_are_errors_in_the_compose_file() {
    let dir = scratch("fidelity-hostile");
    write(
        &dir,
        &[(
            "compose.yaml",
            "services:\n  a:\n    image: x\n    command: \"unterminated \\\"quote\"\n    healthcheck: { test: [CMD, \"true\"], interval: banana }\n    ports: [\"1:2:3:4\", \"70000:80\"]\n    volumes: [\":\", \"a:b:c:d\"]\n    stop_grace_period: soon\n    environment: 5\n",
        )],
    );
    let import = berth(&dir, "import", &["import", "compose", "compose.yaml"]);
    assert!(import.status.success(), "{}", text(&import));
    let notes = String::from_utf8_lossy(&import.stderr).into_owned();
    for (place, what) in [
        ("compose.yaml:4:5", "has a quote that does not close"),
        ("compose.yaml:5:41", "`banana` is not a duration"),
        ("compose.yaml:6:13", "`2:3` is not a host address and port"),
        ("compose.yaml:6:24", "host ports `70000`"),
        (
            "compose.yaml:7:15",
            "volume `:` not carried over: the path in the container is not absolute",
        ),
        ("compose.yaml:8:5", "`soon` is not a duration"),
        (
            "compose.yaml:9:5",
            "`environment` is neither a mapping nor a list",
        ),
    ] {
        assert!(
            notes.contains(&format!("{place}: ")) && notes.contains(what),
            "{place} {what}: {notes}"
        );
    }
    let check = berth(&dir, "import", &["check"]);
    assert!(
        matches!(check.status.code(), Some(0 | 1)),
        "{}",
        text(&check)
    );

    std::fs::remove_file(dir.join("berth.yaml")).unwrap();
    write(
        &dir,
        &[("compose.yaml", "services:\n  web: null\n  api: just text\n")],
    );
    let import = berth(&dir, "import", &["import", "compose", "compose.yaml"]);
    assert_eq!(import.status.code(), Some(2), "{}", text(&import));
    let output = text(&import);
    assert!(
        output.contains("service `web` is not a mapping of settings")
            && output.contains("compose.yaml:2:3"),
        "{output}"
    );
    assert!(
        output.contains("service `api` is not a mapping"),
        "{output}"
    );
    assert!(
        !output.contains("berth.yaml:"),
        "no error points into a file that was not written: {output}"
    );
    assert!(!dir.join("berth.yaml").exists());
}
