//! A service's output: kept on disk, shown prefixed, watched for log-line
//! conditions, and its last lines kept for failure reports.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use regex::Regex;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use crate::runtime::Output;
use crate::status::Status;

/// How many of the last lines a failure report shows.
const KEPT_LINES: usize = 20;

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
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .await
            .ok();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(file) = file.as_mut() {
                let _ = file.write_all(format!("{line}\n").as_bytes()).await;
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
