//! Reading what the log sinks wrote to `.berth/logs/`: each instance's files
//! (`LABEL.log`, and `LABEL.log.1` with the older lines), their lines in time
//! order, and the lines appended since the last look. `berth logs` and the
//! dashboard both read logs through this.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often a follower looks for the files of instances that started since:
/// a replica, a canary, a restarted service's new log.
const LOOK_FOR_NEW: Duration = Duration::from_secs(1);

/// One line of a service's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: SystemTime,
    /// The instance: the service, or `service.N`.
    pub label: String,
    pub text: String,
}

/// Each instance's log files, oldest first, of the named services (all if none).
pub struct LogFiles {
    pub instances: HashMap<String, Vec<PathBuf>>,
    dir: PathBuf,
    services: Vec<String>,
}

impl LogFiles {
    /// The files in `dir`; an error when `dir` cannot be read.
    pub fn of(dir: &Path, services: &[String]) -> std::io::Result<LogFiles> {
        let mut instances: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(label) = name
                .strip_suffix(".log")
                .or_else(|| name.strip_suffix(".log.1"))
            else {
                continue;
            };
            let service = label.split('.').next().unwrap_or(label);
            if services.is_empty() || services.iter().any(|s| s == service) {
                instances
                    .entry(label.to_owned())
                    .or_default()
                    .push(entry.path());
            }
        }
        for paths in instances.values_mut() {
            paths.sort_by_key(|p| std::cmp::Reverse(p.extension().is_some_and(|e| e == "1")));
        }
        Ok(LogFiles {
            instances,
            dir: dir.to_owned(),
            services: services.to_vec(),
        })
    }

    /// The widest instance label, for aligning prefixes.
    pub fn width(&self) -> usize {
        self.instances.keys().map(String::len).max().unwrap_or(0)
    }

    /// Every line in the files now, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        let mut lines: Vec<LogLine> = Vec::new();
        for (label, paths) in &self.instances {
            for path in paths {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                lines.extend(text.lines().filter_map(|line| parse(label, line)));
            }
        }
        lines.sort_by_key(|line| line.at);
        lines
    }

    /// A follower of the current files from their present end, and of files
    /// that appear later from their start.
    pub fn follower(&self) -> Follower {
        let current = self
            .instances
            .iter()
            .filter_map(|(label, paths)| {
                let path = paths
                    .iter()
                    .find(|p| p.extension().is_some_and(|e| e == "log"))?;
                let offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                Some((label.clone(), path.clone(), offset))
            })
            .collect();
        Follower {
            current,
            dir: self.dir.clone(),
            services: self.services.clone(),
            looked: Instant::now(),
        }
    }
}

/// Where each followed file was last read to.
pub struct Follower {
    current: Vec<(String, PathBuf, u64)>,
    dir: PathBuf,
    services: Vec<String>,
    /// When `dir` was last looked at for new files.
    looked: Instant,
}

impl Follower {
    /// A follower of the named services' logs in `dir`, which may not be there
    /// yet: every file is followed from its start.
    pub fn from_start(dir: &Path, services: &[String]) -> Follower {
        Follower {
            current: Vec::new(),
            dir: dir.to_owned(),
            services: services.to_vec(),
            looked: Instant::now() - LOOK_FOR_NEW,
        }
    }

    /// Follows, from their start, the files of instances that appeared since.
    fn include_new(&mut self) {
        let Ok(files) = LogFiles::of(&self.dir, &self.services) else {
            return;
        };
        for (label, paths) in files.instances {
            let Some(path) = paths
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == "log"))
            else {
                continue;
            };
            if !self.current.iter().any(|(_, followed, _)| followed == path) {
                self.current.push((label, path.clone(), 0));
            }
        }
    }

    /// The whole lines appended since the last call, new instances' included;
    /// a file that shrank was rotated and is read from its start.
    pub fn fresh(&mut self) -> Vec<LogLine> {
        if self.looked.elapsed() >= LOOK_FOR_NEW {
            self.include_new();
            self.looked = Instant::now();
        }
        let mut lines = Vec::new();
        for (label, path, offset) in &mut self.current {
            let Ok(mut file) = std::fs::File::open(&*path) else {
                continue;
            };
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if size < *offset {
                *offset = 0;
            }
            let mut appended = String::new();
            if file.seek(SeekFrom::Start(*offset)).is_ok()
                && file.read_to_string(&mut appended).is_ok()
            {
                let complete = appended.rfind('\n').map_or(0, |end| end + 1);
                lines.extend(
                    appended[..complete]
                        .lines()
                        .filter_map(|line| parse(label, line)),
                );
                *offset += complete as u64;
            }
        }
        lines.sort_by_key(|line| line.at);
        lines
    }
}

/// A log file's line `TIMESTAMP TEXT`.
fn parse(label: &str, line: &str) -> Option<LogLine> {
    let (at, text) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339_weak(at).ok()?;
    Some(LogLine {
        at,
        label: label.to_owned(),
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_in_time_order_and_a_follower_sees_only_what_is_appended() {
        let dir = std::env::temp_dir().join(format!("berth-log-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("api.log.1"), "2026-01-01T00:00:01Z one\n").unwrap();
        std::fs::write(dir.join("api.log"), "2026-01-01T00:00:03Z three\n").unwrap();
        std::fs::write(dir.join("web.log"), "2026-01-01T00:00:02Z two\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "2026-01-01T00:00:02Z not a log\n").unwrap();
        let files = LogFiles::of(&dir, &[]).unwrap();
        let texts: Vec<String> = files.lines().into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        let only_web = LogFiles::of(&dir, &["web".to_owned()]).unwrap();
        assert_eq!(only_web.lines().len(), 1);

        let mut follower = files.follower();
        assert!(follower.fresh().is_empty());
        let mut api = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("api.log"))
            .unwrap();
        std::io::Write::write_all(
            &mut api,
            b"2026-01-01T00:00:04Z four\n2026-01-01T00:00:05Z half",
        )
        .unwrap();
        let fresh = follower.fresh();
        assert_eq!(fresh.len(), 1, "a line without its end waits: {fresh:?}");
        assert_eq!(
            (fresh[0].label.as_str(), fresh[0].text.as_str()),
            ("api", "four")
        );

        std::fs::write(dir.join("api.2.log"), "2026-01-01T00:00:06Z a replica\n").unwrap();
        follower.looked -= LOOK_FOR_NEW;
        let fresh = follower.fresh();
        assert_eq!(fresh.len(), 1, "{fresh:?}");
        assert_eq!(fresh[0].label, "api.2");

        let mut waiting = Follower::from_start(&dir.join("later"), &["web".to_owned()]);
        assert!(waiting.fresh().is_empty());
        std::fs::create_dir(dir.join("later")).unwrap();
        std::fs::write(dir.join("later/web.log"), "2026-01-01T00:00:07Z first\n").unwrap();
        waiting.looked -= LOOK_FOR_NEW;
        let fresh = waiting.fresh();
        assert_eq!(
            fresh.len(),
            1,
            "a folder that appears is followed from its start: {fresh:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
