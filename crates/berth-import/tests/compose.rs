//! A compose project of two files, the second overriding the first, carrying
//! what the public files in the CLI's tests do not: healthchecks, conditions,
//! deploy sections, profiles, merge keys, variables from the shell.

use berth_core::model::{Check, Condition, Kind, RestartPolicy};
use berth_core::source::SourceFile;

const BASE: &str = r#"
name: shop
x-app: &app
  restart: unless-stopped
  env_file: .env
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    volumes: [db-data:/var/lib/postgresql/data]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 5s
      timeout: 3s
      retries: 5
      start_period: 10s
  migrate:
    build: { context: ., target: migrate }
    depends_on:
      db: { condition: service_healthy }
  api:
    <<: *app
    build: { context: ., dockerfile: Dockerfile, target: api }
    command: ["serve", "--port", "8000"]
    ports: ["8000:8000"]
    environment:
      - DATABASE_URL=postgres://postgres@db:5432/shop
      - LOG_LEVEL=${LOG_LEVEL:-info}
      - STRIPE_KEY
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
    healthcheck:
      test: curl -f http://localhost:8000/healthz || exit 1
    deploy:
      replicas: 2
      resources:
        limits: { cpus: "0.5", memory: 512M }
        reservations: { cpus: "0.25", memory: 256M }
  admin:
    image: shop/admin:1.4
    profiles: [tools]
    depends_on: [api]
    ports: ["9000"]
volumes:
  db-data:
"#;

const OVERRIDE: &str = r#"
services:
  api:
    environment:
      LOG_LEVEL: debug
    restart: on-failure:3
"#;

fn no_other_files(name: &str) -> Result<SourceFile, String> {
    Err(format!("{name} is not part of this test"))
}

fn source(files: &[SourceFile]) -> berth_import::Source<'static> {
    berth_import::Source {
        files: files.to_vec(),
        dotenv: None,
        folder: ".".to_owned(),
        read: &no_other_files,
    }
}

#[test]
fn a_two_file_project_becomes_a_berth_yaml_that_says_the_same() {
    let files = [
        SourceFile::new("compose.yaml", BASE),
        SourceFile::new("compose.override.yaml", OVERRIDE),
    ];
    let imported = berth_import::compose(&source(&files), None, "ignored").unwrap();
    let project = berth_core::load_str("berth.yaml", &imported.text)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", imported.text));
    let ecosystem = project.ecosystem(Some("docker")).unwrap();
    assert_eq!(ecosystem.name, "shop");

    let db = &ecosystem.services["db"];
    assert_eq!(db.kind, Kind::Postgres);
    assert!(db.ports.is_empty() || db.ports["postgres"].0 == 5432);
    assert!(db.env.is_empty(), "the password comes from the shell");
    assert_eq!(db.secrets.len(), 1);
    let probe = db.health.readiness.as_ref().unwrap();
    assert!(matches!(&probe.check, Check::Exec { .. }));
    assert_eq!(probe.period.0.as_secs(), 5);
    assert_eq!(probe.timeout.0.as_secs(), 3);
    assert_eq!(probe.initial_delay.0.as_secs(), 10);
    assert_eq!(probe.failure_threshold, 5);

    assert_eq!(ecosystem.services["migrate"].kind, Kind::Job);

    let api = &ecosystem.services["api"];
    let build = api.build.as_ref().unwrap();
    assert_eq!(build.target.as_deref(), Some("api"));
    assert_eq!(api.ports["main"].0, 8000);
    assert_eq!(
        api.env["LOG_LEVEL"].to_string(),
        "debug",
        "the override wins"
    );
    assert_eq!(
        api.env["DATABASE_URL"].to_string(),
        "postgres://postgres@${db.host}:${db.port}/shop"
    );
    assert!(api.secrets.contains_key("STRIPE_KEY"));
    assert_eq!(api.env_file, [".env"], "from the merge key");
    assert_eq!(api.restart.policy, RestartPolicy::OnFailure);
    assert_eq!(api.restart.max_restarts, Some(3));
    assert_eq!(api.replicas, Some(2));
    assert_eq!(
        api.resources.cpu_limit.as_ref().unwrap().to_string(),
        "500m"
    );
    assert_eq!(api.resources.memory.as_ref().unwrap().to_string(), "256Mi");
    assert_eq!(
        api.health.readiness.as_ref().unwrap().http_path(),
        Some("/healthz")
    );
    let conditions: Vec<(&str, Condition)> = api
        .depends_on
        .iter()
        .map(|(name, condition)| (name.as_str(), condition.clone()))
        .collect();
    assert_eq!(
        conditions,
        [
            ("db", Condition::Healthy),
            ("migrate", Condition::Completed)
        ]
    );

    assert_eq!(
        project.ecosystem(None).unwrap().environment_name,
        "local",
        "the first environment runs stand-ins locally"
    );
    let deployment = &ecosystem.deployments["tools"];
    assert_eq!(
        deployment.services,
        ["admin", "db", "migrate", "api"],
        "`--profile tools` starts the profile's services and those without one"
    );
    assert_eq!(ecosystem.services["admin"].profiles, ["tools"]);

    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    let has = |text: &str| notes.iter().any(|n| n.contains(text));
    assert_eq!(
        ecosystem.services["db"].volumes[0].to_string(),
        "db-data:/var/lib/postgresql/data",
        "the store keeps its volume, and so its data"
    );
    assert!(
        !has("LOG_LEVEL") && !has("unless-stopped"),
        "what the override replaced needs no note: {notes:#?}"
    );
    assert!(
        !imported.text.contains("DB_PASSWORD}"),
        "a shell variable is a reference, not text"
    );
}

#[test]
fn files_without_services_are_an_error() {
    let files = [SourceFile::new("compose.yaml", "volumes: { data: {} }\n")];
    let Err(problems) = berth_import::compose(&source(&files), None, "x") else {
        panic!("imported nothing");
    };
    assert!(format!("{problems:?}").contains("define no services"));
}
