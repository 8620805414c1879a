//! Every page and action of the dashboard, answered by its router in process:
//! the pages with a history and a backup in `.berth/` and no berth running;
//! actions with and without the token, from another origin, and for a forged
//! host. What an action does to a running berth is tested, with a real one, in
//! the CLI's dashboard suite.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_dashboard::{Access, Project, Token};
use berth_engine::history::{Entry, Evidence, History, Outcome, Record, Trigger};
use http_body_util::BodyExt;
use tower::ServiceExt;

const YAML: &str = r#"
name: shop
services:
  db:
    kind: postgres
    backup: { retention: 2, rto: 5m, rpo: 1h }
  migrate:
    kind: job
    local: { run: [sh, -c, "true"] }
    depends_on: { db: healthy }
  api:
    local: { run: [sh, -c, "sleep 100"] }
    ports: { http: 8000 }
    health: { readiness: { http: /ready } }
    depends_on: { migrate: completed }
  web:
    local: { run: [sh, -c, "sleep 100"] }
    depends_on: { api: healthy }
"#;

const PORT: u16 = 7499;

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-dashboard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token() -> Token {
    // A file of each test's own: tests run at once, and one writing the file
    // while another reads it made the reader see it empty.
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file =
        std::env::temp_dir().join(format!("berth-dashboard-token-{}-{n}", std::process::id()));
    std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
    Token::from_file(&file).unwrap()
}

fn router(dir: &std::path::Path) -> axum::Router {
    let project = berth_core::load_str("berth.yaml", YAML).unwrap();
    let ecosystem = project.ecosystem(None).unwrap().clone();
    let selection = berth_core::plan::select(&ecosystem, &[]).unwrap();
    let plan = berth_core::plan::plan(&ecosystem, &selection);
    let bound: SocketAddr = ([127, 0, 0, 1], PORT).into();
    berth_dashboard::router(
        Project::new(ecosystem, plan, dir.to_owned()),
        Access::new(token(), bound),
    )
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let answer = router.clone().oneshot(request).await.unwrap();
    let status = answer.status();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post(path).header("host", format!("localhost:{PORT}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

/// Two deployments of `local`, the second a canary rolled back with evidence,
/// and one backup of `db`.
fn remembered(dir: &std::path::Path) {
    let history = berth_history::SqliteHistory::open(dir).unwrap();
    let project = berth_core::load_str("berth.yaml", YAML).unwrap();
    let ecosystem = project.ecosystem(None).unwrap();
    let target = berth_engine::Target::of(std::sync::Arc::new(ecosystem.clone()));
    for (trigger, outcome) in [
        (Trigger::Up, Outcome::Succeeded),
        (Trigger::Deploy, Outcome::RolledBack),
    ] {
        let record = Record::begun(
            &target,
            trigger,
            &["api".to_owned()],
            YAML.to_owned(),
            None,
            None,
            (None, None),
        );
        let number = history.begin(&record).unwrap();
        let measurement = berth_engine::analysis::Measurement {
            requests: 40,
            errors: 9,
            error_rate: Some(0.225),
            p95_ms: Some(12),
            source: "the gateway".to_owned(),
        };
        history
            .append(
                "local",
                number,
                &Entry {
                    at: record.started + 10,
                    service: Some("api".to_owned()),
                    what: "analysis failed: error rate 22.5% above 1%".to_owned(),
                    evidence: Some(Evidence {
                        reason: "error rate above the threshold".to_owned(),
                        measurement: Some(measurement),
                        thresholds: vec!["error_rate < 1%".to_owned()],
                        last_lines: vec!["panic: out of coffee".to_owned()],
                    }),
                },
            )
            .unwrap();
        history
            .finish("local", number, outcome, record.started + 20)
            .unwrap();
    }
    let backup = berth_local::backup::folder(dir, "local", "db").join("20261201-020000");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::write(
        backup.join("manifest.json"),
        r#"{"id":"20261201-020000","environment":"local","service":"db","kind":"postgres","revision":"abc","taken_at":"2026-12-01T02:00:00Z","files":[{"name":"shop.dump","bytes":2048,"sha256":"00"}],"census":{}}"#,
    )
    .unwrap();
    std::fs::write(
        backup.parent().unwrap().join("drills.json"),
        r#"[{"backup":"20261201-020000","at":"2026-12-01T03:00:00Z","rto_seconds":12.0,"rpo_seconds":7200.0}]"#,
    )
    .unwrap();
}

#[tokio::test]
async fn every_page_answers_with_what_berth_keeps_and_says_no_berth_runs() {
    let dir = state_dir("pages");
    remembered(&dir);
    let router = router(&dir);
    for (path, expected) in [
        ("/", "phase"),
        ("/", "data-service=\"web\""),
        ("/", "No berth is running here"),
        ("/logs?service=api&service=web", "The output of api, web"),
        ("/deployments", "rolled back"),
        ("/deployments", "roll back"),
        ("/deployments/2", "panic: out of coffee"),
        ("/deployments/2", "<svg"),
        ("/deployments/9", "There is no deployment 9"),
        ("/diff?from=1&to=2", "No setting differs"),
        ("/dora", "change failure rate"),
        ("/dora", "<svg"),
        ("/check", "services compliant"),
        ("/backups", "20261201-020000"),
        ("/backups", "Targets: RTO 5m, RPO 1h"),
        (
            "/backups",
            "RPO 2h<span class=\"state s-fail\"> — beyond a target",
        ),
        ("/assets/app.js", "EventSource"),
        ("/assets/style.css", "svg.graph"),
    ] {
        let (status, body) = send(&router, get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.contains(expected),
            "{path} should hold {expected:?}:\n{body}"
        );
    }
    let (status, body) = send(&router, get("/api/v1/status")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("no berth is running here"), "{body}");
}

#[tokio::test]
async fn a_page_shows_names_from_the_file_as_text_never_as_markup() {
    let dir = state_dir("escaped");
    let router = router(&dir);
    let (_, body) = send(
        &router,
        get("/logs?service=%3Cscript%3Ealert(1)%3C/script%3E"),
    )
    .await;
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
}

#[tokio::test]
async fn an_action_needs_the_token_the_dashboards_origin_and_its_host() {
    let dir = state_dir("actions");
    let router = router(&dir);
    let token = "0123456789abcdef0123";
    for path in [
        "/api/v1/services/api/restart",
        "/api/v1/services/api/stop",
        "/api/v1/promote",
        "/api/v1/abort",
        "/api/v1/deploy",
    ] {
        let (status, body) = send(&router, post(path, &[])).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} without a token: {body}"
        );
        assert!(body.contains("needs the dashboard's token"), "{body}");

        let wrong = send(
            &router,
            post(path, &[("x-berth-token", "0123456789abcdef0124")]),
        )
        .await;
        assert_eq!(
            wrong.0,
            StatusCode::UNAUTHORIZED,
            "{path} with a wrong token"
        );

        let elsewhere = [("x-berth-token", token), ("origin", "http://evil.example")];
        let (status, body) = send(&router, post(path, &elsewhere)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{path} from another origin: {body}"
        );

        let cross_site = [("x-berth-token", token), ("sec-fetch-site", "cross-site")];
        assert_eq!(
            send(&router, post(path, &cross_site)).await.0,
            StatusCode::FORBIDDEN
        );

        // Past every check, the request reaches for the berth, which is not running.
        let own = [
            ("x-berth-token", token),
            ("origin", &format!("http://localhost:{PORT}")),
        ];
        let (status, body) = send(&router, post(path, &own)).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path} with the token: {body}"
        );
    }
    let forged = Request::post("/api/v1/services/api/restart")
        .header("host", format!("attacker.example:{PORT}"))
        .header("x-berth-token", token)
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&router, forged).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");
    let rebound = Request::get("/")
        .header("host", format!("rebound.example:{PORT}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, rebound).await.0,
        StatusCode::MISDIRECTED_REQUEST
    );
    let (status, _) = send(
        &router,
        post("/api/v1/services/api/explode", &[("x-berth-token", token)]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bound_beyond_loopback_reading_needs_the_token_too() {
    let dir = state_dir("beyond");
    let project = berth_core::load_str("berth.yaml", YAML).unwrap();
    let ecosystem = project.ecosystem(None).unwrap().clone();
    let plan = berth_core::plan::plan(
        &ecosystem,
        &berth_core::plan::select(&ecosystem, &[]).unwrap(),
    );
    let router = berth_dashboard::router(
        Project::new(ecosystem, plan, dir),
        Access::new(token(), ([0, 0, 0, 0], PORT).into()),
    );
    let at = |path: &str, cookie: Option<&str>| {
        let mut request = Request::get(path).header("host", format!("shop.internal:{PORT}"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(Body::empty()).unwrap()
    };
    assert_eq!(
        send(&router, at("/", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&router, at("/?token=wrong", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let answer = router
        .clone()
        .oneshot(at("/?token=0123456789abcdef0123", None))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, body) = send(
        &router,
        at("/check", Some("berth_token=0123456789abcdef0123")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn a_short_token_file_is_refused() {
    let file = std::env::temp_dir().join(format!("berth-dashboard-short-{}", std::process::id()));
    std::fs::write(&file, "letmein\n").unwrap();
    let Err(message) = Token::from_file(&file) else {
        panic!("a seven-character token was taken");
    };
    assert!(message.contains("shorter than 16 characters"), "{message}");
}
