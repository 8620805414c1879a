//! A service's output: kept on disk with timestamps and size-based rotation,
//! shown prefixed, watched for log-line conditions, and its last lines kept for
//! failure reports.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use regex::Regex;
use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::runtime::Output;
use crate::status_cell::StatusCell;

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
    /// One open log file for stdout and stderr both, so that rotation moves all
    /// of the service's lines together.
    pub log: Arc<Mutex<Option<LogFile>>>,
}

impl Sink {
    /// Reads `stream` until it closes. Whatever arrived together is handled
    /// together — one timestamp, one write to the file, one to the output — so
    /// that a service writing as fast as it can is never kept waiting on berth.
    pub async fn follow(self, stream: impl AsyncRead + Unpin, status: StatusCell) {
        // Reading and handling are apart — handling on a thread of its own — so
        // that the pipe is drained while a batch is being stamped and written.
        let (batches, mut queue) = tokio::sync::mpsc::channel::<String>(64);
        let handler = {
            let sink = self.clone();
            tokio::task::spawn_blocking(move || {
                while let Some(lines) = queue.blocking_recv() {
                    sink.take(&lines, &status);
                }
            })
        };
        let mut reader = BufReader::with_capacity(1 << 17, stream);
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(chunk) => chunk,
            };
            let Some(end) = chunk.iter().rposition(|b| *b == b'\n') else {
                partial.extend_from_slice(chunk);
                let taken = chunk.len();
                reader.consume(taken);
                continue;
            };
            partial.extend_from_slice(&chunk[..end]);
            reader.consume(end + 1);
            let lines = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            if batches.send(lines).await.is_err() {
                break;
            }
        }
        if !partial.is_empty() {
            let _ = batches
                .send(String::from_utf8_lossy(&partial).into_owned())
                .await;
        }
        drop(batches);
        let _ = handler.await;
    }

    /// Handles whole lines that arrived together, joined by `\n`.
    fn take(&self, lines: &str, status: &StatusCell) {
        {
            let mut log = self.log.lock().expect("log file lock");
            if log.is_none() {
                *log = LogFile::open(&self.file);
            }
            if let Some(file) = log.as_mut() {
                file.write(lines);
            }
        }
        (self.output)(&self.service, lines);
        if !self.patterns.is_empty() {
            for line in lines.lines() {
                self.watch_for_patterns(line, status);
            }
        }
        let mut last = self.last.lock().expect("log lock");
        let newest: Vec<&str> = lines.lines().rev().take(KEPT_LINES).collect();
        for line in newest.into_iter().rev() {
            if last.len() == KEPT_LINES {
                last.pop_front();
            }
            last.push_back(line.to_owned());
        }
    }

    fn watch_for_patterns(&self, line: &str, status: &StatusCell) {
        for (index, pattern) in self.patterns.iter().enumerate() {
            if pattern.is_match(line)
                && !status.get().log_matched.get(index).copied().unwrap_or(true)
            {
                status.send_modify(|s| {
                    if let Some(matched) = s.log_matched.get_mut(index) {
                        *matched = true;
                    }
                });
            }
        }
    }
}

/// A log file of lines `TIMESTAMP LINE`, rotated by size.
pub struct LogFile {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
}

impl LogFile {
    fn open(path: &Path) -> Option<LogFile> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Some(LogFile {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    /// Appends lines, each stamped with the time they arrived.
    fn write(&mut self, lines: &str) {
        if self.size >= ROTATE_AT {
            self.rotate();
        }
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut entry =
            String::with_capacity(lines.len() + lines.len() / 50 * (stamp.len() + 1) + 64);
        for line in lines.lines() {
            entry.push_str(&stamp);
            entry.push(' ');
            entry.push_str(line);
            entry.push('\n');
        }
        if self.file.write_all(entry.as_bytes()).is_ok() {
            self.size += entry.len() as u64;
        }
    }

    /// `NAME.log` becomes `NAME.log.1`. The file it replaces is deleted on a thread
    /// of its own: freeing megabytes takes milliseconds the service should not wait.
    fn rotate(&mut self) {
        let with_suffix = |suffix: &str| {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        let (previous, discarded) = (with_suffix(".1"), with_suffix(".1.discarded"));
        if std::fs::rename(&previous, &discarded).is_ok() {
            std::thread::spawn(move || std::fs::remove_file(discarded));
        }
        let _ = std::fs::rename(&self.path, &previous);
        if let Some(fresh) = LogFile::open(&self.path) {
            *self = fresh;
        }
    }
}
