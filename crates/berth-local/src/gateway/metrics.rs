//! Per-route request counts, error counts and latency histograms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// What the gateway has seen on one route.
#[derive(Clone, Debug, Default, PartialEq)]
struct RouteStats {
    pub requests: u64,
    /// Answers of 5xx, and requests no ready instance could take.
    pub errors: u64,
    /// Requests at or under each bound of the histogram.
    pub buckets: [u64; BUCKETS.len()],
    pub seconds: f64,
}

#[derive(Clone, Default)]
pub struct RouteMetrics(Arc<Mutex<HashMap<String, RouteStats>>>);

impl RouteMetrics {
    pub fn record(&self, route: &str, failed: bool, took: Duration) {
        let mut all = self.0.lock().expect("metrics lock");
        let stats = all.entry(route.to_owned()).or_default();
        stats.requests += 1;
        if failed {
            stats.errors += 1;
        }
        stats.seconds += took.as_secs_f64();
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if took.as_secs_f64() <= bound {
                *bucket += 1;
            }
        }
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let all = self.0.lock().expect("metrics lock");
        let mut routes: Vec<_> = all.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("# TYPE berth_gateway_requests_total counter\n");
        for (route, stats) in &routes {
            out += &format!(
                "berth_gateway_requests_total{{route=\"{route}\"}} {}\n",
                stats.requests
            );
        }
        out += "# TYPE berth_gateway_errors_total counter\n";
        for (route, stats) in &routes {
            out += &format!(
                "berth_gateway_errors_total{{route=\"{route}\"}} {}\n",
                stats.errors
            );
        }
        out += "# TYPE berth_gateway_request_duration_seconds histogram\n";
        for (route, stats) in &routes {
            for (bound, count) in BUCKETS.iter().zip(stats.buckets) {
                out += &format!(
                    "berth_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}\n"
                );
            }
            out += &format!(
                "berth_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n",
                stats.requests
            );
            out += &format!(
                "berth_gateway_request_duration_seconds_sum{{route=\"{route}\"}} {}\n",
                stats.seconds
            );
            out += &format!(
                "berth_gateway_request_duration_seconds_count{{route=\"{route}\"}} {}\n",
                stats.requests
            );
        }
        out
    }
}
