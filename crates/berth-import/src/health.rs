//! A compose `healthcheck` as berth's readiness probe — what `service_healthy`
//! waits for. A `curl` or `wget` of a local URL becomes an HTTP probe; any other
//! test runs as a command.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::document::Field;
use crate::note::Notes;

/// Compose's timings when a healthcheck gives none, which are not berth's.
const DEFAULTS: [(&str, &str, &str); 3] = [
    ("interval", "period", "30s"),
    ("timeout", "timeout", "30s"),
    ("start_period", "initial_delay", "0s"),
];

/// The probe, or `None` when there is no test or it is disabled.
pub fn readiness(healthcheck: &Field, main_port: Option<u16>, notes: &mut Notes) -> Option<Value> {
    if healthcheck.get("disable").and_then(Field::text).as_deref() == Some("true") {
        return None;
    }
    let test = healthcheck.get("test")?;
    let command: Vec<String> = match test.text() {
        Some(shell) => vec!["sh".into(), "-c".into(), shell],
        None => {
            let words: Vec<String> = test.items().iter().filter_map(Field::text).collect();
            match words.split_first() {
                Some((first, rest)) if first == "CMD" => rest.to_vec(),
                Some((first, rest)) if first == "CMD-SHELL" => {
                    vec!["sh".into(), "-c".into(), rest.join(" ")]
                }
                _ => return None,
            }
        }
    };
    let mut probe = Map::new();
    match http_path(&command.join(" "), main_port) {
        Some(path) => probe.insert("http".into(), path.into()),
        None => probe.insert("exec".into(), json!(command)),
    };
    for (compose, berth, default) in DEFAULTS {
        let duration = healthcheck
            .get(compose)
            .and_then(|field| duration(field, notes));
        probe.insert(
            berth.into(),
            duration.unwrap_or_else(|| default.to_owned()).into(),
        );
    }
    let retries = healthcheck
        .get("retries")
        .and_then(Field::text)
        .and_then(|r| r.parse::<u32>().ok())
        .unwrap_or(3);
    probe.insert("failure_threshold".into(), retries.max(1).into());
    if let Some(start_interval) = healthcheck.get("start_interval") {
        notes.add(&start_interval.at, "healthcheck `start_interval` not carried over: berth probes at one period from the start");
    }
    Some(Value::Object(probe))
}

/// A duration berth reads, or a note that it was not one.
pub fn duration(field: &Field, notes: &mut Notes) -> Option<String> {
    let text = field.text()?;
    match text.parse::<berth_core::model::Duration>() {
        Ok(_) => Some(text),
        Err(_) => {
            notes.add(&field.at, format!("`{text}` is not a duration berth reads, not carried over: compose's default stands"));
            None
        }
    }
}

static LOCAL_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:curl|wget)\b[^|;&]*?https?://(?:localhost|127\.0\.0\.1)(?::([0-9]+))?(/[^\s'|;&]*)?(?:\s|$|')")
        .expect("a valid pattern")
});

/// The path of a `curl`/`wget` of the service's own main port.
fn http_path(command: &str, main_port: Option<u16>) -> Option<String> {
    let command = command.strip_prefix("sh -c ").unwrap_or(command);
    let found = LOCAL_URL.captures(command)?;
    let port = found
        .get(1)
        .and_then(|p| p.as_str().parse::<u16>().ok())
        .unwrap_or(80);
    (Some(port) == main_port).then(|| found.get(2).map_or("/", |p| p.as_str()).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curl_of_the_own_port_is_an_http_probe() {
        assert_eq!(
            http_path("curl -f http://localhost:8080/health || exit 1", Some(8080)).as_deref(),
            Some("/health")
        );
        assert_eq!(
            http_path("wget -q --spider http://127.0.0.1:3000", Some(3000)).as_deref(),
            Some("/")
        );
        assert_eq!(
            http_path("curl -f http://localhost:9000/x", Some(8080)),
            None
        );
        assert_eq!(http_path("pg_isready -U postgres", Some(5432)), None);
    }
}
