//! Durations as Docker Compose and Kubernetes write them: `10s`, `1m30s`, `500ms`.

use std::time::Duration;

pub fn compact(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let (minutes, seconds) = (millis / 60_000, millis / 1000 % 60);
    match (minutes, seconds) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_compact() {
        assert_eq!(compact(Duration::from_millis(500)), "500ms");
        assert_eq!(compact(Duration::from_secs(10)), "10s");
        assert_eq!(compact(Duration::from_secs(90)), "1m30s");
        assert_eq!(compact(Duration::from_secs(300)), "5m");
    }
}
