//! Images for the Docker tests, built from what this machine has, since its
//! Engine has no registry to pull from: the berth under test with the libraries
//! it links and busybox (a shell, wget and nc for health checks) in a FROM
//! scratch image, and redis-server with its libraries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::not_run;

/// Whether a Docker Engine answers; says NOT RUN when none does.
pub fn engine_answers() -> bool {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        not_run("no Docker Engine answers (`docker version` fails)");
    }
    answers
}

/// The stand-in workload's image: `berth workload` listening on all addresses.
pub fn workload() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let context = context("workload");
        let binary = context.join("bin/berth");
        std::fs::copy(env!("CARGO_BIN_EXE_berth"), &binary).unwrap();
        run(Command::new("strip").arg(&binary));
        copy_with_libraries(&context, Path::new("/bin/busybox"));
        copy_libraries(&context, &binary);
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY . /\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV WORKLOAD_ADDRESS=0.0.0.0\nCMD [\"berth\", \"workload\"]\n",
        )
        .unwrap();
        build(&context, "berth-test/workload")
    })
}

/// redis-server and redis-cli, from this machine's own binaries.
pub fn redis() -> Option<&'static str> {
    static TAG: OnceLock<Option<String>> = OnceLock::new();
    TAG.get_or_init(|| {
        let server = which("redis-server")?;
        let client = which("redis-cli")?;
        let context = context("redis");
        for binary in [&server, &client] {
            copy_with_libraries(&context, binary);
        }
        std::fs::create_dir_all(context.join("data")).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY . /\nCMD [\"redis-server\", \"--dir\", \"/data\", \"--protected-mode\", \"no\"]\n",
        )
        .unwrap();
        Some(build(&context, "berth-test/redis"))
    })
    .as_deref()
}

/// An image `FROM` another with a few lines more, tagged as `tag`.
pub fn derived(from: &str, lines: &str, files: &[(&str, &str)], tag: &str) {
    let context = context(&tag.replace(['/', ':'], "-"));
    for (path, text) in files {
        let file = context.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        run(Command::new("chmod").arg("755").arg(&file));
    }
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {from}\n{lines}\n"),
    )
    .unwrap();
    run(Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(&context));
}

fn context(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-image-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    dir
}

/// Builds `context` as `repository:HASH`, HASH from its content, once.
fn build(context: &Path, repository: &str) -> String {
    let listing = Command::new("sh")
        .arg("-c")
        .arg("find . -type f | sort | xargs sha256sum | sha256sum | cut -c1-12")
        .current_dir(context)
        .output()
        .unwrap();
    let hash = String::from_utf8_lossy(&listing.stdout).trim().to_owned();
    let tag = format!("{repository}:{hash}");
    let exists = Command::new("docker")
        .args(["image", "inspect", &tag])
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        run(Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(context));
    }
    tag
}

fn which(program: &str) -> Option<PathBuf> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Copies `binary` into `context/bin/` and the libraries it needs beside.
fn copy_with_libraries(context: &Path, binary: &Path) {
    let target = context.join("bin").join(binary.file_name().unwrap());
    std::fs::copy(binary, &target).unwrap();
    copy_libraries(context, &target);
}

/// The libraries `ldd` lists for `binary`, and the loader, at their own paths.
fn copy_libraries(context: &Path, binary: &Path) {
    let listing = Command::new("ldd").arg(binary).output().unwrap();
    for library in String::from_utf8_lossy(&listing.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let target = context.join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(library, target).unwrap();
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
