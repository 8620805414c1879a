//! A berth project in a scratch folder, driven as a user would, and a client
//! that keeps sending it requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{berth, scratch, text};

/// A project in a scratch folder, taken down when dropped.
pub struct Project {
    pub dir: PathBuf,
    pub marker: String,
}

impl Project {
    pub fn new(name: &str, yaml: &str) -> Project {
        let dir = scratch(&format!("deploy-{name}"));
        std::fs::write(dir.join("berth.yaml"), yaml).unwrap();
        let marker = format!("{}-deploy", dir.display());
        Project { dir, marker }
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        berth(&self.dir, &self.marker, args)
    }

    pub fn write(&self, yaml: &str) {
        std::fs::write(self.dir.join("berth.yaml"), yaml).unwrap();
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut argv = args.to_vec();
        argv.extend(["-o", "json"]);
        let output = self.run(&argv);
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn history(&self) -> Vec<serde_json::Value> {
        self.json(&["history"]).as_array().unwrap().clone()
    }

    pub fn timeline(&self, number: u64) -> String {
        let show = self.json(&["history", "show", &number.to_string()]);
        serde_json::to_string_pretty(&show["timeline"]).unwrap()
    }

    pub fn berth_pid(&self) -> u32 {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join(".berth/berth.json")).unwrap())
                .unwrap();
        state["pid"].as_u64().unwrap() as u32
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.run(&["down"]);
    }
}

/// A client sending requests to a port, one connection each, until stopped.
pub struct Hammer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u32, u32, Vec<String>)>,
}

/// What a failed request got, for the assertion that counts them.
pub static FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl Hammer {
    pub fn start(port: u16) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut failed, mut bodies) = (0, 0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                match request(port, "/work") {
                    Some(answer) if answer.contains(" 200 ") => {
                        ok += 1;
                        bodies.push(answer.lines().last().unwrap_or_default().to_owned());
                    }
                    other => {
                        failed += 1;
                        let seen = other.map_or("no answer".to_owned(), |a| format!("{a:?}"));
                        FAILURES
                            .lock()
                            .unwrap()
                            .push(format!("port {port}: {seen}"));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, failed, bodies)
        });
        Hammer { stop, thread }
    }

    /// Requests answered 200, those that were not, and the bodies of the first.
    pub fn finish(self) -> (u32, u32, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

pub fn request(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

pub const LONG: Duration = Duration::from_secs(60);

pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
