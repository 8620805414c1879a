//! An S3-compatible object store for tests: `s3s-fs`, a real S3 server over a
//! folder that checks every request's signature (`.ci/run` installs it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "berth-test-key";
pub const SECRET: &str = "s3cr3t-never-printed";

/// An `s3s-fs` serving `root` on `port`, stopped when dropped. Each folder of
/// `root` is a bucket; each file under it, an object.
pub struct Server(Child);

impl Server {
    pub fn start(root: &Path, port: u16) -> Server {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs answers on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
