//! The PromQL berth alerts on and analyses canaries with, in one place: the
//! rendered alert rules and dashboard ask it of the services' own metrics,
//! and so does a canary's analysis on a cluster, per revision; locally the
//! analysis asks the same of the counts berth's router exports.

/// Where a service's requests are counted: a request counter with a matcher
/// for failed requests, and a latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Series {
    pub requests: &'static str,
    /// The matcher, beside the selector, of the failed requests.
    pub failed: &'static str,
    /// The histogram's `_bucket` series, in seconds.
    pub latency: &'static str,
}

/// The services' own metrics, as the stand-in workload and most HTTP
/// libraries' Prometheus middleware name them; on Kubernetes the scrape
/// labels them `service`, `ecosystem` and `revision` from the pod's labels.
pub const SERVICE_METRICS: Series = Series {
    requests: "http_requests_total",
    failed: "code=~\"5..\"",
    latency: "http_request_duration_seconds_bucket",
};

/// The counts berth's local listener keeps per service and revision.
pub const ROUTER_METRICS: Series = Series {
    requests: "berth_service_requests_total",
    failed: "outcome=\"error\"",
    latency: "berth_service_request_duration_seconds_bucket",
};

impl Series {
    /// The share of failed requests, per `by` (`service`, say; none for one
    /// figure), as a rate over `window` (`5m`).
    pub fn error_ratio(&self, selector: &str, window: &str, by: &str) -> String {
        let by = grouping(by);
        format!(
            "sum{by}(rate({r}{{{selector},{f}}}[{window}])) / sum{by}(rate({r}{{{selector}}}[{window}]))",
            r = self.requests,
            f = self.failed,
        )
    }

    /// The 95th-percentile latency in seconds, per `by`.
    pub fn p95(&self, selector: &str, window: &str, by: &str) -> String {
        let by = if by.is_empty() {
            " by (le) ".to_owned()
        } else {
            format!(" by ({by}, le) ")
        };
        format!(
            "histogram_quantile(0.95, sum{by}(rate({}{{{selector}}}[{window}])))",
            self.latency
        )
    }

    /// Requests per second over `window`.
    pub fn request_rate(&self, selector: &str, window: &str) -> String {
        format!("sum(rate({}{{{selector}}}[{window}]))", self.requests)
    }

    /// How many requests there were over `window`.
    pub fn requests_in(&self, selector: &str, window: &str) -> String {
        format!("sum(increase({}{{{selector}}}[{window}]))", self.requests)
    }

    /// How many of them failed.
    pub fn failed_in(&self, selector: &str, window: &str) -> String {
        format!(
            "sum(increase({}{{{selector},{}}}[{window}]))",
            self.requests, self.failed
        )
    }
}

fn grouping(by: &str) -> String {
    if by.is_empty() {
        String::new()
    } else {
        format!(" by ({by}) ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alerts_and_the_analysis_ask_the_same_series() {
        let selector = "ecosystem=\"shop\"";
        assert_eq!(
            SERVICE_METRICS.error_ratio(selector, "5m", "service"),
            "sum by (service) (rate(http_requests_total{ecosystem=\"shop\",code=~\"5..\"}[5m])) / sum by (service) (rate(http_requests_total{ecosystem=\"shop\"}[5m]))"
        );
        assert_eq!(
            SERVICE_METRICS.p95(selector, "5m", ""),
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{ecosystem=\"shop\"}[5m])))"
        );
        assert_eq!(
            ROUTER_METRICS.failed_in("service=\"web\"", "30s"),
            "sum(increase(berth_service_requests_total{service=\"web\",outcome=\"error\"}[30s]))"
        );
    }
}
