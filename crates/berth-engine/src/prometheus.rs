//! Prometheus as a metric provider: the analysis' measurements as PromQL over
//! a [`Series`] — the counts berth's router exports locally, the services' own
//! metrics on a cluster, as the alert rules ask them — over Prometheus' HTTP
//! API.

use std::time::Duration;

use berth_core::promql::Series;
use berth_core::revision::Revision;

use crate::analysis::{Measurement, MetricProvider};
use crate::http::percent_encoded;
use crate::runtime::BoxFuture;

/// How long one query may take.
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct PrometheusMetrics {
    /// `host:port` of the server.
    authority: String,
    /// Its path prefix, when it is served below one.
    prefix: String,
    series: Series,
}

impl PrometheusMetrics {
    /// The server at `url`, which must be `http://host:port[/prefix]`,
    /// asked about `series`.
    pub fn new(url: &str, series: Series) -> Result<PrometheusMetrics, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("`{url}` is not an http:// URL; berth asks Prometheus over plain HTTP")
        })?;
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        Ok(PrometheusMetrics {
            authority: authority.to_owned(),
            prefix: format!("/{}", prefix.trim_end_matches('/'))
                .trim_end_matches('/')
                .to_owned(),
            series,
        })
    }

    /// The queries for one revision over one window: requests, failed requests,
    /// and the 95th-percentile latency in seconds.
    pub fn queries(&self, service: &str, revision: &Revision, window: Duration) -> [String; 3] {
        let window = format!("{}s", window.as_secs().max(1));
        let selector = format!("service=\"{service}\",revision=\"{revision}\"");
        [
            self.series.requests_in(&selector, &window),
            self.series.failed_in(&selector, &window),
            self.series.p95(&selector, &window, ""),
        ]
    }

    async fn get(&self, path_and_query: &str) -> Result<(u16, String), String> {
        let path = format!("{}{path_and_query}", self.prefix);
        tokio::time::timeout(TIMEOUT, crate::http::request(&self.authority, "GET", &path))
            .await
            .unwrap_or_else(|_| Err(format!("Prometheus at {} did not answer", self.authority)))
            .map_err(|e| format!("Prometheus: {e}"))
    }

    /// One instant query's single value; `None` when it has no data.
    async fn value(&self, query: &str) -> Result<Option<f64>, String> {
        let (status, body) = self
            .get(&format!("/api/v1/query?query={}", percent_encoded(query)))
            .await?;
        if status != 200 {
            return Err(format!("Prometheus answered {status} to `{query}`: {body}"));
        }
        parse_value(&body).map_err(|e| format!("`{query}`: {e}"))
    }
}

/// The value of an instant-vector answer with at most one sample.
fn parse_value(body: &str) -> Result<Option<f64>, String> {
    let answer: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not Prometheus' JSON: {e}"))?;
    let Some(first) = answer["data"]["result"].as_array().and_then(|r| r.first()) else {
        return Ok(None);
    };
    let text = first["value"][1]
        .as_str()
        .ok_or_else(|| "a sample without a value".to_owned())?;
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    Ok(value.is_finite().then_some(value))
}

impl MetricProvider for PrometheusMetrics {
    fn measure<'a>(
        &'a self,
        service: &'a str,
        revision: &'a Revision,
        window: Duration,
    ) -> BoxFuture<'a, Result<Measurement, String>> {
        Box::pin(async move {
            tokio::time::sleep(window).await;
            let [requests, errors, p95] = self.queries(service, revision, window);
            let requests = self.value(&requests).await?.unwrap_or(0.0);
            let errors = self.value(&errors).await?.unwrap_or(0.0);
            let p95 = self.value(&p95).await?;
            Ok(Measurement {
                requests: requests.round() as u64,
                errors: errors.round() as u64,
                error_rate: (requests > 0.0).then(|| errors / requests),
                p95_ms: p95.map(|seconds| (seconds * 1000.0).round() as u64),
                source: format!("prometheus at {}", self.authority),
            })
        })
    }

    fn reachable(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { matches!(self.get("/-/ready").await, Ok((200, _))) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::promql::ROUTER_METRICS;

    #[test]
    fn urls_queries_and_answers() {
        let server = PrometheusMetrics::new("http://127.0.0.1:9090/prom/", ROUTER_METRICS).unwrap();
        assert_eq!(
            (server.authority.as_str(), server.prefix.as_str()),
            ("127.0.0.1:9090", "/prom")
        );
        assert_eq!(
            PrometheusMetrics::new("http://p:9090", ROUTER_METRICS)
                .unwrap()
                .prefix,
            ""
        );
        assert!(PrometheusMetrics::new("https://p", ROUTER_METRICS).is_err());
        let [requests, ..] =
            server.queries("web", &Revision("abc".into()), Duration::from_secs(30));
        assert_eq!(
            requests,
            "sum(increase(berth_service_requests_total{service=\"web\",revision=\"abc\"}[30s]))"
        );
        assert_eq!(
            percent_encoded("a{b=\"c\"}[1s]"),
            "a%7Bb%3D%22c%22%7D%5B1s%5D"
        );
        let answer = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"12.5"]}]}}"#;
        assert_eq!(parse_value(answer), Ok(Some(12.5)));
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_value(empty), Ok(None));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"NaN"]}]}}"#;
        assert_eq!(parse_value(nan), Ok(None));
    }
}
