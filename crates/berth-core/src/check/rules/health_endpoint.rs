use super::rule;
use crate::check::Outcome;
use crate::model::Kind;

rule! {
    /// Services answer HTTP health checks, on the path the ecosystem's standards name.
    HealthEndpoint {
        id: "health-endpoint",
        level: Error,
        description: "an HTTP health endpoint is declared, on the standard path",
        hint: "add `health: { liveness: /healthz }` using the path in `standards.health_path`",
    }
    fn check(subject) -> Outcome {
        if subject.service.kind != Kind::Service {
            return Outcome::NotApplicable;
        }
        let health = &subject.service.health;
        let paths: Vec<&str> = [&health.liveness, &health.readiness]
            .into_iter()
            .flatten()
            .filter_map(|probe| probe.http_path())
            .collect();
        match &subject.ecosystem.standards.health_path {
            _ if paths.is_empty() => Outcome::Fail("no HTTP health endpoint".into()),
            Some(standard) if !paths.contains(&standard.as_str()) => {
                Outcome::Fail(format!("health is on {}, not on the standard {standard}", paths.join(" and ")))
            }
            _ => Outcome::Pass,
        }
    }
}
