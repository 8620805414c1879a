//! A service's output: kept on disk with timestamps and size-based rotation,
//! shown prefixed, watched for log-line conditions, and its last lines kept for
//! failure reports.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use regex::Regex;
use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use crate::runtime::Output;
use crate::status::Status;

/// How many of the last lines a failure report shows.
const KEPT_LINES: usize = 20;

/// A log file is rotated to `NAME.log.1` when it grows past this.
pub const ROTATE_AT: u64 = 10 << 20;

/// Where one service's lines go.
#[derive(Clone)]
pub struct Sink {
    pub service: String,
    pub file: PathBuf,
    pub output: Output,
    /// Log-line conditions on this service, in the order of `Status::log_matched`.
    pub patterns: Arc<Vec<Regex>>,
    pub last: Arc<Mutex<VecDeque<String>>>,
}

impl Sink {
    /// Reads `stream` line by line until it closes.
    pub async fn follow(self, stream: impl AsyncRead + Unpin, status: watch::Sender<Status>) {
        let mut lines = BufReader::new(stream).lines();
        let mut file = LogFile::open(&self.file).await;
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(file) = file.as_mut() {
                file.write(&line).await;
            }
            (self.output)(&self.service, &line);
            self.watch_for_patterns(&line, &status);
            let mut last = self.last.lock().expect("log lock");
            if last.len() == KEPT_LINES {
                last.pop_front();
            }
            last.push_back(line);
        }
    }

    fn watch_for_patterns(&self, line: &str, status: &watch::Sender<Status>) {
        for (index, pattern) in self.patterns.iter().enumerate() {
            if pattern.is_match(line) && !status.borrow().log_matched[index] {
                status.send_modify(|s| s.log_matched[index] = true);
            }
        }
    }
}

/// A log file of lines `TIMESTAMP LINE`, rotated by size.
struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
}

impl LogFile {
    async fn open(path: &Path) -> Option<LogFile> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .ok()?;
        let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        Some(LogFile {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    async fn write(&mut self, line: &str) {
        if self.size >= ROTATE_AT {
            self.rotate().await;
        }
        let entry = format!(
            "{} {line}\n",
            humantime::format_rfc3339_millis(SystemTime::now())
        );
        if self.file.write_all(entry.as_bytes()).await.is_ok() {
            self.size += entry.len() as u64;
        }
    }

    async fn rotate(&mut self) {
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        let _ = tokio::fs::rename(&self.path, &rotated).await;
        if let Some(fresh) = LogFile::open(&self.path).await {
            *self = fresh;
        }
    }
}
