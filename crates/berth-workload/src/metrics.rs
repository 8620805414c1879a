//! Request counts and latencies, served in Prometheus' text format.

use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics(Mutex<Counts>);

#[derive(Default)]
struct Counts {
    ok: u64,
    errors: u64,
    buckets: [u64; BUCKETS.len()],
    seconds_sum: f64,
}

impl Metrics {
    pub fn record(&self, failed: bool, took: Duration) {
        let mut counts = self.0.lock().expect("metrics lock");
        if failed {
            counts.errors += 1;
        } else {
            counts.ok += 1;
        }
        let seconds = took.as_secs_f64();
        counts.seconds_sum += seconds;
        for (bucket, bound) in counts.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    pub fn render(&self, name: &str) -> String {
        let counts = self.0.lock().expect("metrics lock");
        let total = counts.ok + counts.errors;
        let mut out = String::from(
            "# HELP http_requests_total Requests served, by status code.\n# TYPE http_requests_total counter\n",
        );
        out += &format!(
            "http_requests_total{{service=\"{name}\",code=\"200\"}} {}\n",
            counts.ok
        );
        out += &format!(
            "http_requests_total{{service=\"{name}\",code=\"500\"}} {}\n",
            counts.errors
        );
        out += "# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n";
        for (bound, count) in BUCKETS.iter().zip(counts.buckets) {
            out += &format!(
                "http_request_duration_seconds_bucket{{service=\"{name}\",le=\"{bound}\"}} {count}\n"
            );
        }
        out += &format!(
            "http_request_duration_seconds_bucket{{service=\"{name}\",le=\"+Inf\"}} {total}\n"
        );
        out += &format!(
            "http_request_duration_seconds_sum{{service=\"{name}\"}} {}\n",
            counts.seconds_sum
        );
        out += &format!("http_request_duration_seconds_count{{service=\"{name}\"}} {total}\n");
        out
    }
}
