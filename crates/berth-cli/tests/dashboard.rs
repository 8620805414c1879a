//! The dashboard in a real headless Chromium, driven over WebDriver
//! (chromedriver), against `berth up --ui` running real processes: the page
//! loads; a state change arrives without a reload; two services' logs stream
//! and the search filters them; a restart is refused without the token and done
//! with it; a canary in progress shows its weights; a rollback from the page.
//! Each page's screenshot is written under the target's tmp folder. Without
//! chromium and chromedriver the test says NOT RUN (`.ci/run` installs them).

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Up, berth, free_ports, not_run, text};

const LIMIT: Duration = Duration::from_secs(30);

fn yaml(port: u16, version: &str, talk: &str) -> String {
    format!(
        r#"name: shop
services:
  api:
    local: {{ run: [berth, workload, --release, "{version}"] }}
    ports: {{ http: {port} }}
    replicas: 2
    health: {{ readiness: {{ http: /ready, period: 100ms }} }}
    rollout: {{ strategy: canary, steps: [50, 100], pause: 10m, analysis: {{ interval: 1s, min_requests: 1000 }} }}
  chatty:
    local: {{ run: [sh, -c, "i=0; while true; do i=$((i+1)); echo chatty line $i; sleep 0.1; done"] }}
  talker:
    local: {{ run: [sh, -c, "i=0; while true; do i=$((i+1)); echo talker {talk} $i; sleep 0.1; done"] }}
  slow:
    kind: job
    local: {{ run: [sleep, "4"] }}
  idle:
    local: {{ run: [sleep, "1000"] }}
    depends_on: {{ api: healthy, slow: completed }}
"#
    )
}

/// chromedriver on a free port, and the chromium it drives; `None` (said) when
/// this machine lacks them.
fn driver() -> Option<(Child, u16)> {
    let found = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found("chromedriver") || !found("chromium") {
        not_run(
            "the dashboard's browser tests need chromium and chromedriver (Debian: chromium chromium-driver)",
        );
        return None;
    }
    let port = free_ports(1)[0];
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((child, port))
}

async fn browser(driver_port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,900"] }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromedriver starts a chromium session")
}

/// Evaluates `script` (a function body that returns) until `holds` says yes.
async fn until(client: &Client, what: &str, script: &str, holds: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + LIMIT;
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        if holds(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {value} after {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// The pid of `instance`, from `berth status`.
fn pid_of(up: &Up, instance: &str) -> Option<u64> {
    let status = berth(&up.dir, &up.marker, &["status", "-o", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    status["instances"]
        .as_array()?
        .iter()
        .find(|i| i["instance"] == instance)?["pid"]
        .as_u64()
}

/// Until the graph's node of `service` shows `state`.
async fn node_is(client: &Client, service: &str, state: &str) {
    let script =
        format!("return document.querySelector('[data-service={service}]').getAttribute('class')");
    until(
        client,
        &format!("{service} {state} in the graph"),
        &script,
        |v| {
            v.as_str()
                .is_some_and(|c| c.contains(&format!("s-{state}")))
        },
    )
    .await;
}

async fn click(client: &Client, css: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap();
    element.click().await.unwrap();
}

async fn message(client: &Client, contains: &str) -> String {
    let script = "return document.getElementById('message').textContent";
    until(client, &format!("the message `{contains}`"), script, |v| {
        v.as_str().is_some_and(|t| t.contains(contains))
    })
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser_follows_the_ecosystem_and_acts_only_with_the_token() {
    let Some((mut chromedriver, driver_port)) = driver() else {
        return;
    };
    let [app, ui] = free_ports(2)[..] else {
        unreachable!()
    };
    let mut up = Up::start(
        "dashboard",
        &yaml(app, "1.0.0", "says"),
        &["--ui", "--ui-port", &ui.to_string()],
    );
    let (_, said) = up.wait_for("actions need the token", LIMIT);
    let token = said
        .split("#token=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let base = format!("http://127.0.0.1:{ui}");
    let client = browser(driver_port).await;

    // The page loads with the graph: a waiting service says what it waits for,
    // and the page follows each change without a reload.
    client.goto(&format!("{base}/")).await.unwrap();
    until(
        &client,
        "idle waiting for the job",
        "return document.querySelector('[data-service=idle] .node-waits').textContent",
        |v| {
            v.as_str()
                .is_some_and(|t| t.contains("waits for slow completed"))
        },
    )
    .await;
    screenshot(&client, "0-ecosystem-starting").await;
    up.wait_for("services up", LIMIT);
    node_is(&client, "api", "running").await;
    client
        .execute("window.sameDocument = true; return true", vec![])
        .await
        .unwrap();
    screenshot(&client, "1-ecosystem").await;
    let stopped = berth(&up.dir, &up.marker, &["stop", "idle"]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    node_is(&client, "idle", "stopped").await;
    let same = client
        .execute("return window.sameDocument === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the change came by a reload");

    // A restart without the token is refused and changes nothing.
    let before = pid_of(&up, "chatty").unwrap();
    let restart = "tr[data-instance=chatty] button[data-action$='/restart']";
    click(&client, restart).await;
    let refused = message(&client, "refused").await;
    assert!(refused.contains("needs the dashboard's token"), "{refused}");
    assert_eq!(pid_of(&up, "chatty"), Some(before));

    // With the token, opened as printed, it is done.
    client
        .goto(&format!("{base}/#token={token}"))
        .await
        .unwrap();
    until(
        &client,
        "the table",
        "return document.querySelectorAll('#instances tr').length",
        |v| v.as_u64().is_some_and(|n| n >= 4),
    )
    .await;
    let url = client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("token"),
        "the token stays in the address bar: {url}"
    );
    click(&client, restart).await;
    message(&client, "restarted chatty").await;
    let deadline = Instant::now() + LIMIT;
    while pid_of(&up, "chatty").is_none_or(|pid| pid == before) {
        assert!(Instant::now() < deadline, "chatty was not restarted");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Two services' logs stream; the search keeps only what matches.
    client
        .goto(&format!("{base}/logs?service=chatty&service=talker"))
        .await
        .unwrap();
    let count = "return document.querySelectorAll('#log div').length";
    let first = until(&client, "lines of both", "const t = document.getElementById('log').textContent; return t.includes('chatty line') && t.includes('talker says') ? document.querySelectorAll('#log div').length : 0", |v| {
        v.as_u64().is_some_and(|n| n > 0)
    })
    .await
    .as_u64()
    .unwrap();
    until(&client, "more lines arriving", count, |v| {
        v.as_u64().is_some_and(|n| n > first + 5)
    })
    .await;
    let others = client
        .execute("return [...document.querySelectorAll('#log div')].filter(d => !/^(chatty|talker) \\|/.test(d.textContent)).length", vec![])
        .await
        .unwrap();
    assert_eq!(others, json!(0), "lines of services not chosen");
    client
        .find(Locator::Css("#search"))
        .await
        .unwrap()
        .send_keys("talker")
        .await
        .unwrap();
    let shown = client
        .execute("return [...document.querySelectorAll('#log div')].filter(d => d.style.display !== 'none').map(d => d.textContent)", vec![])
        .await
        .unwrap();
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert!(
        !shown.is_empty() && shown.iter().all(|l| l.contains("talker")),
        "{shown:?}"
    );
    screenshot(&client, "2-logs").await;

    // Going from live page to live page never runs out of connections: a
    // browser opens six to a host, and each page holds a stream while it shows.
    for round in 0..8 {
        for path in ["/", "/logs?service=chatty", "/deployments"] {
            let loaded = tokio::time::timeout(LIMIT, client.goto(&format!("{base}{path}"))).await;
            assert!(
                matches!(loaded, Ok(Ok(()))),
                "{path} in round {round} did not load: {loaded:?}"
            );
        }
    }

    // Deployment 2 changes the talker; deployment 3 is a canary of the api,
    // shown with its weights while it pauses, and aborted from the page.
    std::fs::write(up.dir.join("berth.yaml"), yaml(app, "1.0.0", "now says")).unwrap();
    let deployed = berth(&up.dir, &up.marker, &["deploy", "talker"]);
    assert!(deployed.status.success(), "{}", text(&deployed));
    std::fs::write(up.dir.join("berth.yaml"), yaml(app, "2.0.0", "now says")).unwrap();
    let (dir, marker) = (up.dir.clone(), up.marker.clone());
    let deploying = std::thread::spawn(move || berth(&dir, &marker, &["deploy", "api"]));
    client
        .goto(&format!("{base}/deployments#token={token}"))
        .await
        .unwrap();
    let weights = until(
        &client,
        "the canary's weights",
        "const w = document.querySelector('[data-rollout=api]'); return w ? w.textContent : ''",
        |v| v.as_str().is_some_and(|t| t.contains("50%")),
    )
    .await;
    assert!(weights.as_str().unwrap().contains("50%"), "{weights}");
    let rollouts = client
        .execute(
            "return document.querySelectorAll('[data-rollout=api]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rollouts, json!(1), "a service rolling out is shown once");
    screenshot(&client, "3-deployment-under-way").await;
    client.refresh().await.unwrap();
    client
        .execute("window.sameDocument = true; return true", vec![])
        .await
        .unwrap();
    click(&client, "button[data-action='/api/v1/abort']").await;
    client.accept_alert().await.unwrap();
    let aborted = deploying.join().unwrap();
    assert!(text(&aborted).contains("aborted"), "{}", text(&aborted));
    // The page that watched the deployment shows how it ended, without a reload.
    until(&client, "the history follows the deployment", "const r = document.querySelector('tr[data-deployment=\"3\"]'); return r ? r.textContent : ''", |v| {
        v.as_str().is_some_and(|t| t.contains("aborted"))
    })
    .await;
    let steps = client
        .execute(
            "return document.getElementById('running').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(steps, json!(""), "nothing runs any more");
    let same = client
        .execute("return window.sameDocument === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");

    // Back to deployment 1 (the talker as it was), from the page, with the token.
    client.goto(&format!("{base}/deployments")).await.unwrap();
    click(&client, "tr[data-deployment='1'] button").await;
    client.accept_alert().await.unwrap();
    let said = message(&client, "deployment 4").await;
    assert!(said.contains("succeeded"), "{said}");
    let history = berth(&up.dir, &up.marker, &["history", "-o", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(history[2]["outcome"], "aborted", "{history}");
    assert_eq!(history[3]["trigger"], "rollback", "{history}");
    client.goto(&format!("{base}/deployments")).await.unwrap();
    screenshot(&client, "4-history").await;

    for (path, name) in [
        ("/deployments/3", "5-deployment-3"),
        ("/diff?from=1&to=3", "6-diff"),
        ("/dora", "7-dora"),
        ("/check", "8-check"),
        ("/backups", "9-backups"),
    ] {
        client.goto(&format!("{base}{path}")).await.unwrap();
        screenshot(&client, name).await;
    }
    client.close().await.unwrap();
    let _ = chromedriver.kill();
    let _ = chromedriver.wait();
    up.signal("-INT");
    assert_eq!(up.exit_code(LIMIT), Some(0), "{}", up.transcript());
}

/// One request to the dashboard on `port`, as a browser on this machine sends
/// it; the status line and body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    stream
        .write_all(format!("{request}\r\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    (
        status,
        answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    )
}

/// `berth ui` for a berth in the background: it finds the running environment,
/// shows its services, and restarts one with the token only. No browser needed.
#[test]
fn berth_ui_serves_a_detached_berth_and_acts_with_the_token_only() {
    let [app, ui] = free_ports(2)[..] else {
        unreachable!()
    };
    let project = support::project::Project::new("ui-detached", &yaml(app, "1.0.0", "says"));
    let up = project.run(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    let token_file = project.dir.join("token");
    std::fs::write(&token_file, "a-token-of-twenty-characters\n").unwrap();
    let mut dashboard = Up::command_in(
        project.dir.clone(),
        &[
            "ui",
            "--port",
            &ui.to_string(),
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    dashboard.wait_for("dashboard of shop (local)", LIMIT);

    let (status, page) = http(ui, "GET", "/", &[]);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("data-service=\"talker\"") && page.contains("running"),
        "{page}"
    );
    let (status, json) = http(ui, "GET", "/api/v1/status", &[]);
    assert_eq!(status, 200, "{json}");
    assert!(json.contains("\"instance\":\"chatty\""), "{json}");

    let before = pid_of(&dashboard, "chatty").unwrap();
    let (status, said) = http(ui, "POST", "/api/v1/services/chatty/restart", &[]);
    assert_eq!(status, 401, "{said}");
    let (status, said) = http(
        ui,
        "POST",
        "/api/v1/services/chatty/restart",
        &[
            ("X-Berth-Token", "a-token-of-twenty-characters"),
            ("Origin", "http://evil.example"),
        ],
    );
    assert_eq!(status, 403, "{said}");
    assert_eq!(pid_of(&dashboard, "chatty"), Some(before));
    let (status, said) = http(
        ui,
        "POST",
        "/api/v1/services/chatty/restart",
        &[("X-Berth-Token", "a-token-of-twenty-characters")],
    );
    assert_eq!(status, 200, "{said}");
    assert!(said.contains("restarted chatty"), "{said}");
    let deadline = Instant::now() + LIMIT;
    while pid_of(&dashboard, "chatty").is_none_or(|pid| pid == before) {
        assert!(Instant::now() < deadline, "chatty was not restarted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, said) = http(
        ui,
        "POST",
        "/api/v1/services/nonesuch/stop",
        &[("X-Berth-Token", "a-token-of-twenty-characters")],
    );
    assert_eq!(status, 404, "{said}");
    assert!(
        said.contains("there is no service `nonesuch` running"),
        "{said}"
    );

    // Beyond loopback it will not start without a token of the user's own.
    let refused = berth(
        &project.dir,
        &project.marker,
        &["ui", "--bind", "0.0.0.0", "--port", "0"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("--token-file"),
        "{}",
        text(&refused)
    );
    dashboard.signal("-INT");
    assert!(dashboard.exit_code(LIMIT).is_some());

    // A cluster's environment is shown by the commands that read its cluster.
    let cluster = support::scratch("ui-cluster");
    std::fs::write(
        cluster.join("berth.yaml"),
        "name: shop\nservices:\n  web: { image: shop/web:1 }\nenvironments:\n  prod: { runtime: kubernetes }\n",
    )
    .unwrap();
    let refused = berth(&cluster, &project.marker, &["ui", "-e", "prod"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("berth status -e prod"),
        "{}",
        text(&refused)
    );
}
