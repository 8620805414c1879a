//! A service's output: kept on disk with timestamps and size-based rotation,
//! shown prefixed, watched for log-line conditions, and its last lines kept for
//! failure reports.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use regex::Regex;
use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::Notify;

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

/// The longest line kept whole: past it, what a service wrote without a newline
/// is taken as a line, so that such a service cannot grow berth without bound.
pub const LONGEST_LINE: usize = 64 << 10;

/// `lines` with every line longer than [`LONGEST_LINE`] cut into lines of at most
/// that many bytes, at character boundaries.
fn capped(lines: String) -> String {
    // Most batches are shorter than one line may be: nothing to look for.
    if lines.len() <= LONGEST_LINE || lines.split('\n').all(|line| line.len() <= LONGEST_LINE) {
        return lines;
    }
    let mut out = String::with_capacity(lines.len() + lines.len() / LONGEST_LINE + 1);
    for (i, line) in lines.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut rest = line;
        while rest.len() > LONGEST_LINE {
            let mut cut = LONGEST_LINE;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&rest[..cut]);
            out.push('\n');
            rest = &rest[cut..];
        }
        out.push_str(rest);
    }
    out
}

/// Lines on their way to a writer thread.
struct Batch {
    sink: Arc<(Sink, StatusCell)>,
    lines: String,
    /// Told once every batch of this sink before it is written: the last one.
    flushed: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The threads that stamp and write every service's lines: a fixed few, however
/// many instances run, so that a thousand instances cost no more threads than
/// one. A sink always goes to the same writer, which keeps its lines in order.
fn writers() -> &'static [tokio::sync::mpsc::Sender<Batch>] {
    static WRITERS: OnceLock<Vec<tokio::sync::mpsc::Sender<Batch>>> = OnceLock::new();
    WRITERS.get_or_init(|| {
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        (0..count)
            .map(|i| {
                let (sender, mut batches) = tokio::sync::mpsc::channel::<Batch>(256);
                std::thread::Builder::new()
                    .name(format!("berth-logs-{i}"))
                    .spawn(move || {
                        while let Some(batch) = batches.blocking_recv() {
                            if !batch.lines.is_empty() {
                                batch.sink.0.take(&batch.lines, &batch.sink.1);
                            }
                            if let Some(flushed) = batch.flushed {
                                let _ = flushed.send(());
                            }
                        }
                    })
                    .expect("a log writer thread starts");
                sender
            })
            .collect()
    })
}

impl Sink {
    /// Reads `stream` until it closes, and returns once all of it is written.
    /// Whatever arrived together is handled together — one timestamp, one write
    /// to the file, one to the output — on a writer thread, so that the pipe is
    /// drained while a batch is being stamped and written, and a service writing
    /// as fast as it can is never kept waiting on berth.
    /// `heard` is told each time something arrives, for the readiness probe.
    pub async fn follow(
        self,
        stream: impl AsyncRead + Unpin,
        status: StatusCell,
        heard: Arc<Notify>,
    ) {
        let writers = writers();
        let writer = &writers[writer_of(&self.service, writers.len())];
        let sink = Arc::new((self, status));
        let send = |lines: String, flushed| Batch {
            sink: sink.clone(),
            lines,
            flushed,
        };
        let mut reader = BufReader::with_capacity(1 << 17, stream);
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(chunk) => chunk,
            };
            heard.notify_one();
            let taken = chunk.len();
            let end = chunk.iter().rposition(|b| *b == b'\n');
            let whole = match end {
                Some(end) => {
                    partial.extend_from_slice(&chunk[..end]);
                    reader.consume(end + 1);
                    true
                }
                None => {
                    partial.extend_from_slice(chunk);
                    reader.consume(taken);
                    partial.len() >= LONGEST_LINE
                }
            };
            if !whole {
                continue;
            }
            let lines = capped(String::from_utf8_lossy(&partial).into_owned());
            partial.clear();
            if writer.send(send(lines, None)).await.is_err() {
                break;
            }
        }
        let rest = capped(String::from_utf8_lossy(&partial).into_owned());
        let (flushed, written) = tokio::sync::oneshot::channel();
        if writer.send(send(rest, Some(flushed))).await.is_ok() {
            let _ = written.await;
        }
    }

    /// One of berth's own lines about this service (`berth: exited with 3;
    /// restarting in 1s`): shown, and kept in its log, where `logs -f` finds it.
    pub fn note(&self, line: &str) {
        self.write(line);
        (self.output)(&self.service, line);
    }

    fn write(&self, lines: &str) {
        let mut log = self.log.lock().expect("log file lock");
        if log.is_none() {
            *log = LogFile::open(&self.file);
        }
        if let Some(file) = log.as_mut() {
            file.write(lines);
        }
    }

    /// Handles whole lines that arrived together, joined by `\n`.
    fn take(&self, lines: &str, status: &StatusCell) {
        self.write(lines);
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
        let file = crate::private_file::open(path, false).ok()?;
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

/// Which writer a sink's lines go to: always the same one.
fn writer_of(service: &str, writers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    service.hash(&mut hasher);
    (hasher.finish() % writers as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_the_longest_line_on_character_boundaries() {
        let long = "é".repeat(LONGEST_LINE);
        let cut = capped(format!("short\n{long}"));
        assert!(cut.lines().all(|line| line.len() <= LONGEST_LINE));
        assert_eq!(cut.lines().count(), 3);
        assert_eq!(cut.replace('\n', ""), format!("short{long}"));
        assert_eq!(capped("a\nb".to_owned()), "a\nb");
    }
}
