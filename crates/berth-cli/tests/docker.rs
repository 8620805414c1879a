//! `runtime: compose` environments on this machine's real Docker Engine: up with
//! every container healthy, dependency gates, rolling and canary deploys through
//! berth's listeners, restarts of containers killed from outside, a killed berth
//! cleaned up by the next, data kept on named volumes, down leaving nothing —
//! each checked through the Engine's API — and the same system as
//! `docker-compose` runs from `berth render --to compose`.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, ListContainersOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use support::images::{self, engine_answers};
use support::project::{FAILURES, Hammer, LONG, Project, wait_until};
use support::{free_ports, text};

/// A question to the Engine, answered on a runtime of its own.
fn engine<T>(ask: impl AsyncFnOnce(&Docker) -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let docker = Docker::connect_with_local_defaults()
                .unwrap()
                .negotiate_version()
                .await
                .unwrap();
            ask(&docker).await
        })
}

fn label(ecosystem: &str) -> std::collections::HashMap<String, Vec<String>> {
    [(
        "label".to_owned(),
        vec![format!("dev.berth.ecosystem={ecosystem}")],
    )]
    .into()
}

/// The ecosystem's containers, running or not, inspected, by service label.
fn containers(ecosystem: &str) -> Vec<ContainerInspectResponse> {
    engine(async |docker| {
        let options = ListContainersOptions {
            all: true,
            filters: Some(label(ecosystem)),
            ..ListContainersOptions::default()
        };
        let mut found = Vec::new();
        for summary in docker.list_containers(Some(options)).await.unwrap() {
            let id = summary.id.unwrap();
            if let Ok(inspected) = docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                found.push(inspected);
            }
        }
        found
    })
}

fn networks(ecosystem: &str) -> usize {
    engine(async |docker| {
        let options = ListNetworksOptions {
            filters: Some(label(ecosystem)),
        };
        docker.list_networks(Some(options)).await.unwrap().len()
    })
}

fn volumes(ecosystem: &str) -> usize {
    engine(async |docker| {
        let options = ListVolumesOptions {
            filters: Some(label(ecosystem)),
        };
        let listed = docker.list_volumes(Some(options)).await.unwrap();
        listed.volumes.unwrap_or_default().len()
    })
}

fn service_of(container: &ContainerInspectResponse) -> String {
    container.config.as_ref().unwrap().labels.as_ref().unwrap()["dev.berth.service"].clone()
}

fn health_of(container: &ContainerInspectResponse) -> String {
    let state = container.state.as_ref().unwrap();
    state
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map(|s| s.to_string())
        .unwrap_or_else(|| state.status.unwrap().to_string())
}

fn status(project: &Project) -> serde_json::Value {
    project.json(&["status"])
}

fn instance(status: &serde_json::Value, label: &str) -> serde_json::Value {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == label)
        .cloned()
        .unwrap_or_else(|| panic!("no {label} in {status}"))
}

fn all_ready(project: &Project) -> bool {
    let status = status(project);
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["ready"] == true || i["state"] == "completed")
}

fn up(project: &Project) {
    let up = project.run(&["up", "-e", "docker", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
}

fn down_leaves_nothing(project: &Project, ecosystem: &str) {
    let down = project.run(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(containers(ecosystem).is_empty(), "containers are left");
    assert_eq!(networks(ecosystem), 0, "the network is left");
}

/// A service of the stand-in workload's image on `port`.
fn workload(name: &str, port: u16, version: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    image: {image}\n    command: [berth, workload, --port, \"{port}\", --release, \"{version}\"{extra}]\n    ports: {{ http: {port} }}\n    health: {{ liveness: /healthz, readiness: {{ http: /ready, period: 200ms }} }}\n",
        image = images::workload()
    )
}

#[test]
fn the_quickstart_runs_healthy_on_docker_as_docker_compose_runs_its_rendered_files() {
    if !engine_answers() {
        return;
    }
    // The quickstart names its images; here they are the stand-in workload,
    // each on its declared port, with an `api migrate` that the job runs.
    let migrate =
        "#!/bin/sh\necho \"api $*: applying migrations\"\nsleep 0.2\necho migrations applied\n";
    for (image, port) in [("api", 9001), ("worker", 9003), ("web", 9002)] {
        images::derived(
            images::workload(),
            &format!(
                "ENV PORT={port}\nCOPY bin/api /bin/api\nCMD [\"berth\", \"workload\", \"--release\", \"0.1.0\"]"
            ),
            &[("bin/api", migrate)],
            &format!("quickstart/{image}:0.1.0"),
        );
    }
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart/berth.yaml"
    ))
    .unwrap();
    let project = Project::new("docker-quickstart", &yaml);
    up(&project);
    wait_until("every quickstart service ready", LONG, || {
        all_ready(&project)
    });
    let running = containers("quickstart");
    let mut seen: Vec<(String, String)> = running
        .iter()
        .map(|c| (service_of(c), health_of(c)))
        .collect();
    seen.sort();
    let healthy = |s: &str| (s.to_owned(), "healthy".to_owned());
    assert_eq!(
        seen,
        vec![healthy("api"), healthy("web"), healthy("worker")]
    );
    assert_eq!(networks("quickstart"), 1);
    // Through berth's gateway, the routes reach the containers.
    assert!(support::get(8080, "/api").contains("200 OK"));
    let berths = described(&running);

    let logs = project.run(&["logs", "migrate"]);
    assert!(
        text(&logs).contains("api migrate: applying migrations"),
        "{}",
        text(&logs)
    );
    down_leaves_nothing(&project, "quickstart");

    let Some(compose) = support::compose() else {
        support::not_run("docker-compose is not installed");
        return;
    };
    let render = project.run(&[
        "render", "--to", "compose", "-e", "docker", "-d", "rendered",
    ]);
    assert!(render.status.success(), "{}", text(&render));
    let rendered = project.dir.join("rendered");
    let compose_run = |args: &[&str]| {
        let output = std::process::Command::new(compose[0])
            .args(&compose[1..])
            .args([
                "-p",
                "berthquickstart",
                "-f",
                "compose.data.yaml",
                "-f",
                "compose.services.yaml",
            ])
            .args(args)
            .current_dir(&rendered)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
    };
    compose_run(&["up", "-d"]);
    let theirs = || {
        engine(async |docker| {
            let options = ListContainersOptions {
                all: true,
                filters: Some(
                    [(
                        "label".to_owned(),
                        vec!["com.docker.compose.project=berthquickstart".to_owned()],
                    )]
                    .into(),
                ),
                ..ListContainersOptions::default()
            };
            let mut found = Vec::new();
            for summary in docker.list_containers(Some(options)).await.unwrap() {
                found.push(
                    docker
                        .inspect_container(&summary.id.unwrap(), None::<InspectContainerOptions>)
                        .await
                        .unwrap(),
                );
            }
            found
        })
    };
    wait_until("docker-compose's containers healthy", LONG, || {
        theirs().iter().all(|c| {
            let health = health_of(c);
            health == "healthy" || health == "exited"
        })
    });
    let composed = theirs();
    compose_run(&["down"]);
    let theirs = described(
        &composed
            .into_iter()
            .filter(|c| c.state.as_ref().unwrap().status.unwrap().to_string() == "running")
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        berths, theirs,
        "berth's containers and docker-compose's differ"
    );
}

/// What a container is, as both runtimes should agree: image, argv, environment,
/// health check, the ports it serves, and how many networks it is on.
fn described(containers: &[ContainerInspectResponse]) -> BTreeMap<String, String> {
    containers
        .iter()
        .map(|c| {
            let config = c.config.as_ref().unwrap();
            let labels = config.labels.as_ref().unwrap();
            let service = labels
                .get("dev.berth.service")
                .or_else(|| labels.get("com.docker.compose.service"))
                .unwrap()
                .clone();
            let mut env: Vec<&String> = config.env.as_ref().unwrap().iter().collect();
            env.sort();
            let mut ports: Vec<&String> =
                config.exposed_ports.iter().flatten().collect();
            ports.sort();
            let networks = c
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .map_or(0, |n| n.len());
            let description = format!(
                "image {:?}\ncmd {:?}\nentrypoint {:?}\nenv {env:?}\nhealth {:?}\nports {ports:?}\nnetworks {networks}",
                config.image,
                config.cmd,
                config.entrypoint,
                config.healthcheck.as_ref().and_then(|h| h.test.clone()),
            );
            (service, description)
        })
        .collect()
}

#[test]
fn a_job_holds_its_dependent_back_and_a_container_killed_from_outside_is_restarted() {
    if !engine_answers() {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    // Built by berth from a build section, as a service of the seeds is.
    let project = Project::new("docker-gate", "");
    let context = project.dir.join("image");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {}\nENV PORT={port}\n", images::workload()),
    )
    .unwrap();
    project.write(&format!(
        "name: dockergate\nservices:\n  migrate:\n    kind: job\n    build: {{ context: image }}\n    command: [sh, -c, \"echo migrating; sleep 3; echo migrated\"]\n  api:\n    build: {{ context: image }}\n    ports: {{ http: {port} }}\n    health: {{ readiness: {{ http: /ready, period: 200ms }} }}\n    depends_on: {{ migrate: completed }}\nenvironments:\n  docker: {{ runtime: compose }}\n"
    ));
    let started = std::thread::spawn({
        let dir = project.dir.clone();
        let marker = project.marker.clone();
        move || support::berth(&dir, &marker, &["up", "-e", "docker", "-d"])
    });
    wait_until("the job's container", LONG, || {
        containers("dockergate")
            .iter()
            .any(|c| service_of(c) == "migrate")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let during: Vec<String> = containers("dockergate").iter().map(service_of).collect();
    assert_eq!(during, vec!["migrate"], "api waits for the job to complete");
    let up = started.join().unwrap();
    assert!(up.status.success(), "{}", text(&up));
    let log = || std::fs::read_to_string(project.dir.join(".berth/berth.log")).unwrap();
    assert_eq!(
        log().matches("building berth-dockergate:").count(),
        1,
        "the job and the service share one build: {}",
        log()
    );
    let now = status(&project);
    assert_eq!(instance(&now, "migrate")["state"], "completed");
    assert_eq!(instance(&now, "api")["ready"], true);

    let api = containers("dockergate")
        .into_iter()
        .find(|c| service_of(c) == "api")
        .unwrap();
    engine(async |docker| {
        let options = KillContainerOptions {
            signal: "SIGKILL".to_owned(),
        };
        docker
            .kill_container(api.id.as_ref().unwrap(), Some(options))
            .await
            .unwrap();
    });
    wait_until("api restarted and ready", LONG, || {
        let api = instance(&status(&project), "api");
        api["restarts"] == 1 && api["ready"] == true
    });
    assert!(support::get(port, "/").contains("200 OK"));
    let api_log = text(&project.run(&["logs", "api"]));
    assert!(api_log.contains("exited with 137; restarting"), "{api_log}");

    // An unchanged build is not built again.
    down_leaves_nothing(&project, "dockergate");
    let again = project.run(&["up", "-e", "docker", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(!log().contains("building"), "{}", log());
    down_leaves_nothing(&project, "dockergate");
}

#[test]
fn deploys_roll_without_a_failed_request_and_a_bad_canary_is_rolled_back() {
    if !engine_answers() {
        return;
    }
    let ports = free_ports(2);
    let ports = [ports[0], ports[1], free_ports(1)[0]];
    let canary = "{ strategy: canary, steps: [20, 100], analysis: { error_rate: 1%, interval: 1s, min_requests: 5 } }";
    let blue_green =
        "{ strategy: blue_green, keep_previous: 1s, smoke: [{ path: /, body: \"workload\" }] }";
    let file = |version: &str, canary_version: &str, canary_extra: &str| {
        format!(
            "name: dockerroll\nservices:\n{}    replicas: 2\n{}    rollout: {blue_green}\n{}    rollout: {canary}\nenvironments:\n  docker: {{ runtime: compose }}\n",
            workload("roll", ports[0], version, ""),
            workload("blue", ports[2], version, ""),
            workload("canary", ports[1], canary_version, canary_extra),
        )
    };
    let project = Project::new("docker-roll", &file("1.0.0", "1.0.0", ""));
    up(&project);
    let rolling = Hammer::start(ports[0]);
    std::thread::sleep(Duration::from_millis(300));
    project.write(&file("2.0.0", "1.0.0", ""));
    let deploy = project.run(&["deploy", "-e", "docker"]);
    assert!(deploy.status.success(), "{}", text(&deploy));
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failed, bodies) = rolling.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} failed: {:?}",
        ok + failed,
        FAILURES.lock().unwrap()
    );
    assert!(ok > 50, "the client kept going ({ok})");
    assert!(bodies.first().unwrap().contains("1.0.0"), "{bodies:?}");
    assert!(bodies.last().unwrap().contains("2.0.0"), "{bodies:?}");

    let canary_client = Hammer::start(ports[1]);
    std::thread::sleep(Duration::from_millis(300));
    project.write(&file("2.0.0", "2.0.0", ", --failure-rate, \"0.5\""));
    let deploy = project.run(&["deploy", "-e", "docker"]);
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy));
    assert!(text(&deploy).contains("rolled back"), "{}", text(&deploy));
    let (ok, failed, _) = canary_client.finish();
    assert!(
        failed > 0 && f64::from(failed) / f64::from(ok + failed) <= 0.2,
        "at most the step's share failed: {failed} of {}",
        ok + failed
    );
    assert!(
        support::get(ports[1], "/").contains("1.0.0"),
        "the old canary serves again"
    );
    assert!(
        support::get(ports[0], "/").contains("2.0.0"),
        "the good roll stays"
    );
    let mut revisions: Vec<String> = containers("dockerroll")
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                service_of(c),
                c.config.as_ref().unwrap().labels.as_ref().unwrap()["dev.berth.revision"]
            )
        })
        .collect();
    revisions.sort();
    revisions.dedup();
    assert_eq!(
        revisions.len(),
        3,
        "one revision of each service runs: {revisions:?}"
    );
    let history = project.json(&["history", "-e", "docker"]);
    assert_eq!(
        history.as_array().unwrap().last().unwrap()["outcome"],
        "rolled_back"
    );
    // What the first deployment ran, whatever the file says now.
    let rollback = project.run(&["rollback", "-e", "docker", "--to", "1"]);
    assert!(rollback.status.success(), "{}", text(&rollback));
    for port in ports {
        assert!(
            support::get(port, "/").contains("1.0.0"),
            "port {port} rolled back"
        );
    }
    down_leaves_nothing(&project, "dockerroll");
}

#[test]
fn an_image_that_is_not_on_the_engine_is_an_error_that_says_what_to_do() {
    if !engine_answers() {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: dockermissing\nservices:\n  api:\n    image: berth-test/not-built:1\n    ports: {{ http: {port} }}\nenvironments:\n  docker: {{ runtime: compose }}\n"
    );
    let project = Project::new("docker-missing", &yaml);
    let up = project.run(&["up", "-e", "docker", "-d"]);
    assert_eq!(up.status.code(), Some(1), "{}", text(&up));
    for expected in [
        "image berth-test/not-built:1 is not on this Docker Engine",
        "give `api` a `build:` section",
        "`external:`",
    ] {
        assert!(text(&up).contains(expected), "{expected} in {}", text(&up));
    }
    assert!(containers("dockermissing").is_empty());
    assert_eq!(networks("dockermissing"), 0, "nothing is left half made");
}

#[test]
fn an_engine_that_does_not_answer_is_named_with_what_to_do() {
    let project = Project::new(
        "docker-no-engine",
        "name: noengine\nservices:\n  api: { image: a:1, ports: { http: 9999 } }\nenvironments:\n  docker: { runtime: compose }\n",
    );
    let up = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "-e", "docker"])
        .current_dir(&project.dir)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(1), "{}", text(&up));
    for expected in [
        "cannot reach the Docker Engine at unix:///nonexistent/docker.sock",
        "help: start Docker",
    ] {
        assert!(text(&up).contains(expected), "{expected} in {}", text(&up));
    }
}

#[test]
fn a_failing_build_is_reported_and_a_link_to_the_root_is_not_packed() {
    if !engine_answers() {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let project = Project::new(
        "docker-bad-build",
        &format!(
            "name: dockerbadbuild\nservices:\n  api:\n    build: {{ context: image }}\n    ports: {{ http: {port} }}\n  web:\n    build: {{ context: missing }}\n    ports: {{ http: {} }}\nenvironments:\n  docker: {{ runtime: compose }}\n",
            free_ports(1)[0]
        ),
    );
    let context = project.dir.join("image");
    std::fs::create_dir_all(&context).unwrap();
    std::os::unix::fs::symlink("/", context.join("root")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {}\nRUN exit 3\n", images::workload()),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let up = project.run(&["up", "-e", "docker", "api"]);
    assert_eq!(up.status.code(), Some(1), "{}", text(&up));
    assert!(
        text(&up).contains("returned a non-zero code: 3"),
        "{}",
        text(&up)
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the link was packed as a link"
    );
    let up = project.run(&["up", "-e", "docker", "web"]);
    assert_eq!(up.status.code(), Some(1), "{}", text(&up));
    assert!(
        text(&up).contains("cannot read the build context"),
        "{}",
        text(&up)
    );
    assert!(containers("dockerbadbuild").is_empty());
}

#[test]
fn a_killed_berth_leaves_containers_that_the_next_up_cleans() {
    if !engine_answers() {
        return;
    }
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: dockerkill\nservices:\n{}environments:\n  docker: {{ runtime: compose }}\n",
        workload("api", port, "1.0.0", "")
    );
    let project = Project::new("docker-kill", &yaml);
    up(&project);
    let pid = project.berth_pid();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    wait_until("berth gone", LONG, || !support::is_alive(pid));
    assert_eq!(
        containers("dockerkill").len(),
        1,
        "its container outlives it"
    );
    let status = text(&project.run(&["status"]));
    assert!(
        status.contains(
            "1 container of `docker` is left on the Docker Engine (dockerkill-docker-api-"
        ),
        "{status}"
    );

    let again = project.run(&["up", "-e", "docker", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    wait_until("api ready again", LONG, || all_ready(&project));
    let log = std::fs::read_to_string(project.dir.join(".berth/berth.log")).unwrap();
    assert!(
        log.contains("removed 1 instance an earlier berth left running"),
        "{log}"
    );
    let left = containers("dockerkill");
    assert_eq!(left.len(), 1, "no duplicate");
    assert_eq!(health_of(&left[0]), "healthy");
    down_leaves_nothing(&project, "dockerkill");
}

#[test]
fn redis_keeps_its_data_on_its_volume_across_down_and_up() {
    if !engine_answers() {
        return;
    }
    let Some(image) = images::redis() else {
        support::not_run("redis-server is not installed");
        return;
    };
    let (project, port) = redis_in_a_container("dockerdata", "docker-data", image);
    up(&project);
    assert_eq!(redis(port, &["SET", "greeting", "kept"]), "+OK");
    down_leaves_nothing(&project, "dockerdata");
    assert_eq!(volumes("dockerdata"), 1, "down keeps the volume");

    up(&project);
    assert_eq!(redis(port, &["GET", "greeting"]), "$4\r\nkept");
    let down = project.run(&["down", "--volumes"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(volumes("dockerdata"), 0, "--volumes removes it");
}

/// A project of one redis store `cache` of `image` in the Docker environment,
/// the ecosystem `ecosystem`; and its port.
fn redis_in_a_container(ecosystem: &str, name: &str, image: &str) -> (Project, u16) {
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let yaml = format!(
        "name: {ecosystem}\nservices:\n  cache:\n    kind: redis\n    image: {image}\n    command: [redis-server, --port, \"{port}\", --dir, /data, --protected-mode, \"no\"]\n    ports: {{ redis: {port} }}\nenvironments:\n  docker: {{ runtime: compose }}\n"
    );
    (Project::new(name, &yaml), port)
}

/// Whether a Redis server answers PING on `port` (no answer yet is no).
fn pong(port: u16) -> bool {
    let answer = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"PING\r\n")?;
        let mut reply = [0; 16];
        let read = stream.read(&mut reply)?;
        Ok(reply[..read].starts_with(b"+PONG"))
    };
    answer().unwrap_or(false)
}

/// One command to a Redis server, in its protocol; the reply without its last CRLF.
fn redis(port: u16, command: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = format!("*{}\r\n", command.len());
    for word in command {
        request += &format!("${}\r\n{word}\r\n", word.len());
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = vec![0; 256];
    let read = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..read])
        .trim_end()
        .to_owned()
}

/// An imported compose project on the Engine: the port where compose
/// published it, the volume by the name compose gave it.
#[test]
fn an_imported_project_runs_on_docker_where_and_with_what_compose_gave_it() {
    if !engine_answers() {
        return;
    }
    let Some(image) = images::redis() else {
        support::not_run("redis-server is not installed");
        return;
    };
    let [port] = free_ports(1)[..] else {
        unreachable!()
    };
    let project = Project::new("docker-import", "");
    std::fs::remove_file(project.dir.join("berth.yaml")).unwrap();
    std::fs::write(
        project.dir.join("compose.yaml"),
        format!(
            "services:\n  cache:\n    image: {image}\n    command: redis-server --dir /data --protected-mode no\n    ports: [\"127.0.0.1:{port}:6379\"]\n    volumes: [\"cache-data:/data\"]\nvolumes:\n  cache-data:\n"
        ),
    )
    .unwrap();
    let import = project.run(&[
        "import",
        "compose",
        "compose.yaml",
        "--name",
        "dockerimport",
    ]);
    assert!(import.status.success(), "{}", text(&import));
    up(&project);
    let ping = || pong(port);
    wait_until("redis answers where compose published it", LONG, ping);
    assert_eq!(redis(port, &["SET", "greeting", "kept"]), "+OK");
    down_leaves_nothing(&project, "dockerimport");
    assert_eq!(
        volumes("dockerimport"),
        1,
        "the named volume outlives the containers"
    );

    up(&project);
    wait_until("redis answers again", LONG, ping);
    assert_eq!(redis(port, &["GET", "greeting"]), "$4\r\nkept");
    let down = project.run(&["down", "-e", "docker", "--volumes"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(volumes("dockerimport"), 0, "--volumes removes it");
}

/// A data store in a container is backed up and drilled from this machine,
/// through the port it is published on, and restored: Redis copies the backup
/// as the replica of a seed container on the environment's network, which goes
/// when the copy is whole.
#[test]
fn a_store_in_a_container_is_backed_up_and_drilled() {
    if !engine_answers() {
        return;
    }
    let Some(image) = images::redis() else {
        support::not_run("redis-server is not installed");
        return;
    };
    if support::missing("redis-cli") {
        return;
    }
    let (project, port) = redis_in_a_container("dockerbackup", "docker-backup", image);
    up(&project);
    assert_eq!(redis(port, &["SET", "greeting", "kept"]), "+OK");
    let backup = project.run(&["backup", "-e", "docker"]);
    assert!(backup.status.success(), "{}", text(&backup));
    let drill = project.run(&["backup", "drill", "-e", "docker"]);
    assert!(drill.status.success(), "{}", text(&drill));
    assert!(text(&drill).contains("drilled `cache`"), "{}", text(&drill));
    assert_eq!(redis(port, &["SET", "greeting", "overwritten"]), "+OK");
    assert_eq!(redis(port, &["SET", "since", "the backup"]), "+OK");
    let restore = project.run(&["restore", "-e", "docker", "cache", "--yes"]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(
        text(&restore).contains("restored `cache`"),
        "{}",
        text(&restore)
    );
    assert_eq!(redis(port, &["GET", "greeting"]), "$4\r\nkept");
    assert_eq!(
        redis(port, &["EXISTS", "since"]),
        ":0",
        "a restore puts back the whole dataset"
    );
    assert_eq!(
        redis(port, &["SET", "after", "writable"]),
        "+OK",
        "a replica no more"
    );
    assert_eq!(containers("dockerbackup").len(), 1, "the seed is gone");
    down_leaves_nothing(&project, "dockerbackup");
    let down = project.run(&["down", "-e", "docker", "--volumes"]);
    assert!(down.status.success(), "{}", text(&down));
}
