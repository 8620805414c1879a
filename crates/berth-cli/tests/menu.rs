//! berth in a terminal (a pseudo-terminal that `script` provides): `berth`
//! alone is a menu there and help anywhere else; tables are coloured there only.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{assert_gone, free_ports, path_with_berth, scratch};

fn wait_for(screen: &Arc<Mutex<String>>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !screen.lock().unwrap().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no `{text}` on the screen:\n{}",
            screen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn in_a_terminal_the_menu_runs_the_chosen_environment_and_deployment() {
    if Command::new("script").arg("--version").output().is_err() {
        support::not_run("`script` (util-linux) is not installed, so no pseudo-terminal");
        return;
    }
    let [api, web] = free_ports(2)[..] else {
        unreachable!()
    };
    let dir = scratch("menu");
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "name: menu\nservices:\n  api: {{ local: {{ run: [berth, workload] }}, ports: {{ http: {api} }}, health: {{ readiness: /ready }} }}\n  web: {{ local: {{ run: [berth, workload] }}, ports: {{ http: {web} }}, depends_on: {{ api: healthy }} }}\nenvironments:\n  local: {{ description: on this machine }}\n  other: {{}}\ndeployments:\n  just-api: {{ description: Only the API, services: [api] }}\n"
        ),
    )
    .unwrap();
    let marker = format!("{}-menu", dir.display());
    let mut child = Command::new("script")
        // `exec`, so that Ctrl-C reaches berth alone and not a shell
        // (dash, when SHELL is unset) that SIGINT would kill.
        .args(["-qfec", "exec berth", "/dev/null"])
        .env("SHELL", "/bin/sh")
        .current_dir(&dir)
        .env("PATH", path_with_berth())
        .env("BERTH_TEST_RUN", &marker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = screen.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 {
                break;
            }
            reader
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let mut keys = child.stdin.take().unwrap();
    wait_for(&screen, "other (local)");
    keys.write_all(b"\r").unwrap();
    wait_for(&screen, "just-api");
    keys.write_all(b"\x1b[B").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    keys.write_all(b"\r").unwrap();
    wait_for(&screen, "1 service up");
    keys.write_all(b"\x03").unwrap();
    wait_for(&screen, "api stopped");
    let status = child.wait().unwrap();
    assert!(status.success());
    let screen = screen.lock().unwrap().clone();
    assert!(
        screen.contains("Environment: local") && screen.contains("Deployment: just-api"),
        "{screen}"
    );
    assert!(
        !screen.contains("web started"),
        "only the chosen deployment runs: {screen}"
    );
    assert_gone(&marker);
}

#[test]
fn without_a_terminal_berth_alone_prints_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let help = String::from_utf8_lossy(&output.stderr);
    assert!(
        help.contains("Usage: berth") && help.contains("Commands:"),
        "{help}"
    );
}

/// The check table is coloured in a terminal, and plain with NO_COLOR or into a
/// pipe.
#[test]
fn tables_are_coloured_only_in_a_terminal_without_no_color() {
    if Command::new("script").arg("--version").output().is_err() {
        support::not_run("`script` (util-linux) is not installed, so no pseudo-terminal");
        return;
    }
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart");
    let in_terminal = |no_color: bool| {
        let mut command = Command::new("script");
        command
            .args(["-qec", "exec berth check", "/dev/null"])
            .env("SHELL", "/bin/sh")
            .env("PATH", path_with_berth())
            .env_remove("NO_COLOR")
            .current_dir(&example);
        if no_color {
            command.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned()
    };
    let coloured = in_terminal(false);
    assert!(coloured.contains("\u{1b}[32mpass"), "{coloured:?}");
    assert!(!in_terminal(true).contains('\u{1b}'));
    let piped = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("check")
        .env_remove("NO_COLOR")
        .current_dir(&example)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&piped.stdout).contains('\u{1b}'));
}
