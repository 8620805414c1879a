//! berth.yaml written to break berth: every one gets a located error and a clean
//! exit, never a crash, a hang, a file outside the output folder or a raw escape.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::scratch;

/// Runs berth with a deadline: a hang is a failure, not a stuck test run. Its
/// output goes to files, which never fill up as a pipe would.
fn berth(dir: &Path, args: &[&str]) -> Output {
    let out = tempfile(dir, "stdout");
    let err = tempfile(dir, "stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("berth {args:?} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Output {
        status: child.wait().unwrap(),
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    }
}

fn tempfile(dir: &Path, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    dir.join(format!("{name}-{nanos}.txt"))
}

fn check(name: &str, yaml: &[u8]) -> (i32, String) {
    let dir = scratch(name);
    std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
    let output = berth(&dir, &["check"]);
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (
        output
            .status
            .code()
            .expect("berth ended by itself, not by a signal"),
        text,
    )
}

const HEAD: &str = "name: x\nservices:\n  a: { image: 'x:1' }\n";

#[test]
fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
    // 32 KB: 16,000 lists, each the first item of the one before.
    let lists = "- ".repeat(16_000);
    let (code, text) = check("lists", format!("{HEAD}x:\n  {lists}\n").as_bytes());
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("nest more than 128 deep"), "{text}");
    assert!(text.contains("berth.yaml:"), "{text}");
    let maps: String = (0..2_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let (code, text) = check("maps", maps.as_bytes());
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("nest more than 128 deep"), "{text}");
}

#[test]
fn errors_past_column_65535_are_shown_without_a_snippet() {
    let key = "k".repeat(1_000_000);
    let (code, text) = check("long-key", format!("{HEAD}{key}: 1\n").as_bytes());
    assert_eq!(code, 2, "{text}");
    assert!(text.len() < 10_000, "the line is not printed whole");
    let description = "d".repeat(70_000);
    let yaml = format!(
        "name: x\ndescription: {description}\nservices: {{ a: {{ image: 'x:1', bogus: 1 }} }}\n"
    );
    let (code, text) = check("long-line", yaml.as_bytes());
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("berth.yaml:3:"), "{text}");
}

#[test]
fn many_errors_are_counted_not_all_printed() {
    let keys: String = (0..40_000).map(|i| format!("k{i}: 1\n")).collect();
    let (code, text) = check("many", format!("{HEAD}{keys}").as_bytes());
    assert_eq!(code, 2);
    assert!(
        text.contains("40000 problems found; the first 50 are shown"),
        "{}",
        &text[text.len().saturating_sub(500)..]
    );
    assert!(text.lines().count() < 1_000);
}

#[test]
fn aliases_that_multiply_are_refused() {
    let mut yaml = String::from("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..10 {
        let j = i - 1;
        yaml += &format!(
            "x{i}: &x{i} [*x{j}, *x{j}, *x{j}, *x{j}, *x{j}, *x{j}, *x{j}, *x{j}, *x{j}, *x{j}]\n"
        );
    }
    let (code, text) = check("laughs", format!("{HEAD}{yaml}").as_bytes());
    assert_eq!(code, 2);
    assert!(text.contains("once its aliases are followed"), "{text}");
}

#[test]
fn names_that_become_paths_or_variables_are_validated() {
    let yaml = format!("{HEAD}environments:\n  ../../../escaped: {{ runtime: kubernetes }}\n");
    let (code, text) = check("env-name", yaml.as_bytes());
    assert_eq!(code, 2);
    assert!(
        text.contains("environment name `../../../escaped` is not a valid DNS label"),
        "{text}"
    );
    let dir = scratch("kustomize-escape");
    std::fs::write(dir.join("berth.yaml"), &yaml).unwrap();
    std::fs::create_dir_all(dir.join("a/b/c")).unwrap();
    let render = berth(
        &dir.join("a/b/c"),
        &[
            "-f",
            "../../../berth.yaml",
            "render",
            "--to",
            "kustomize",
            "-d",
            "out",
        ],
    );
    assert_eq!(render.status.code(), Some(2));
    assert!(!dir.join("escaped").exists() && !dir.join("a/escaped").exists());

    let yaml = format!("{HEAD}deployments:\n  '../up': {{ services: [a] }}\n");
    let (code, text) = check("deployment-name", yaml.as_bytes());
    assert_eq!(code, 2);
    assert!(
        text.contains("deployment name `../up` is not a valid name"),
        "{text}"
    );

    let yaml = "name: x\nservices:\n  a: { image: 'x:1', env: { 'B=C': v } }\n  b: { image: 'x:1', secrets: { \"A\\0\": { env: S } } }\n";
    let (code, text) = check("env-vars", yaml.as_bytes());
    assert_eq!(code, 2);
    assert!(
        text.contains("`B=C` is not a valid environment variable name"),
        "{text}"
    );
    assert!(
        text.contains("`A\\u{0}` is not a valid environment variable name"),
        "{text}"
    );
}

#[test]
fn terminal_escapes_in_the_file_never_reach_the_terminal() {
    let yaml = "name: x\nservices:\n  a: { image: 'x:1', \"\u{1b}]0;owned\u{7}\u{1b}[2J\": 1 }\n";
    let (code, text) = check("escapes", yaml.as_bytes());
    assert_eq!(code, 2);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
}

#[test]
fn files_that_are_not_utf8_or_not_regular_are_refused() {
    let (code, text) = check("latin1", b"name: x\nservices:\n  a: { image: 'caf\xe9' }\n");
    assert_eq!(code, 2);
    assert!(
        text.contains("berth.yaml:3:19: the file is not UTF-8 text (byte 0xe9)"),
        "{text}"
    );

    let dir = scratch("special");
    let zero = berth(&dir, &["-f", "/dev/zero", "check"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("/dev/zero is not a regular file"));
    let fifo = dir.join("fifo.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let output = berth(&dir, &["-f", fifo.to_str().unwrap(), "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a regular file"));

    let big = dir.join("big.yaml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(17 << 20).unwrap();
    let output = berth(&dir, &["-f", big.to_str().unwrap(), "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is larger than 16 MiB"));
}
