//! CPU and memory of local processes, from `/proc`: the CPU share is the time
//! a process ran between two looks, over the time between them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What one process uses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Use {
    /// Percent of one core since the last look; `None` at the first.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: u64,
}

/// The last look at each process.
#[derive(Default)]
pub struct Sampler {
    last: Mutex<HashMap<u32, (Instant, u64)>>,
}

/// Clock ticks a second, as `/proc/PID/stat` counts them: 100 on Linux since 2.6.
const TICKS: f64 = 100.0;

impl Sampler {
    /// What `pid` uses now; `None` when it is gone.
    pub fn sample(&self, pid: u32) -> Option<Use> {
        let ticks = cpu_ticks(pid)?;
        let rss_bytes = rss(pid).unwrap_or(0);
        let now = Instant::now();
        let mut last = self.last.lock().expect("the sampler is never poisoned");
        let cpu_percent = last.get(&pid).and_then(|(then, before)| {
            let seconds = now.duration_since(*then).as_secs_f64();
            (seconds > 0.0)
                .then(|| (ticks.saturating_sub(*before) as f64 / TICKS) / seconds * 100.0)
        });
        last.insert(pid, (now, ticks));
        Some(Use {
            cpu_percent,
            rss_bytes,
        })
    }

    /// Forgets processes that are not among `pids`.
    pub fn keep_only(&self, pids: &[u32]) {
        self.last
            .lock()
            .expect("the sampler is never poisoned")
            .retain(|pid, _| pids.contains(pid));
    }
}

/// utime + stime: fields 14 and 15 of `/proc/PID/stat`, counted after the
/// command's closing parenthesis, since the command may hold spaces.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// What `pid` holds in memory now, in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_and_a_second_look_gives_a_share() {
        let sampler = Sampler::default();
        let pid = std::process::id();
        let first = sampler.sample(pid).unwrap();
        assert_eq!(first.cpu_percent, None);
        assert!(first.rss_bytes > 0);
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(0);
        }
        let second = sampler.sample(pid).unwrap();
        assert!(second.cpu_percent.is_some_and(|p| p >= 0.0), "{second:?}");
        assert_eq!(sampler.sample(u32::MAX), None);
    }
}
