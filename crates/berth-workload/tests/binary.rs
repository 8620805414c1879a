//! The `berth-workload` binary, run as a benchmark runs it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_berth-workload");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The answer to `GET path`, or None while nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn it_boots_serves_ready_from_the_port_in_its_environment_and_stops_on_sigterm() {
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(BINARY)
        .args(["--start-delay", "150ms", "--name", "api"])
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let answer = loop {
        if let Some(answer) = get(port, "/ready") {
            break answer;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            panic!("never listened");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "listened before its delay"
    );
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("ready\n"), "{answer}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().expect("it exits");
    assert!(output.status.success(), "{:?}", output.status);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains(&format!("api 1.0.0 listening on port {port}")),
        "{printed}"
    );
    assert!(printed.contains("api stopping"), "{printed}");
}

#[test]
fn a_failure_rate_that_is_not_a_share_is_refused_with_what_to_give() {
    let output = Command::new(BINARY)
        .args(["--failure-rate", "1.5"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--failure-rate 1.5 is not a share"), "{said}");
    assert!(said.contains("give a number from 0"), "{said}");
}
