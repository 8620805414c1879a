//! The gate before a deployment: the seeds' checklist item "standards pass", made
//! executable. Production-like environments deploy only when `berth check`
//! passes (pinned images included); elsewhere the score is recorded and the
//! deployment goes on.

use berth_core::Ecosystem;
use berth_core::check;

/// What the check said, and whether the deployment may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckGate {
    pub passed: bool,
    pub summary: String,
    /// `service: rule` for each failed finding.
    pub failures: Vec<String>,
}

pub fn check_gate(ecosystem: &Ecosystem) -> CheckGate {
    let report = check::check(ecosystem);
    let failures: Vec<String> = report
        .services
        .iter()
        .flat_map(|service| {
            service
                .failures()
                .map(move |finding| format!("{}: {}", service.name, finding.rule.id()))
        })
        .collect();
    let production = ecosystem.environment.production;
    CheckGate {
        passed: !production || report.passed(),
        summary: format!(
            "check: {}{}",
            report.score(),
            if production && !report.passed() {
                "; a production environment deploys only when every service passes"
            } else {
                ""
            }
        ),
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: g
services:
  api: { image: api:latest, ports: { http: 9001 } }
environments:
  dev: {}
  prod: { production: true }
";

    #[test]
    fn production_needs_a_passing_check_and_elsewhere_it_is_noted() {
        let project = berth_core::load_str("berth.yaml", YAML).unwrap();
        let dev = check_gate(project.ecosystem(Some("dev")).unwrap());
        assert!(dev.passed);
        let prod = check_gate(project.ecosystem(Some("prod")).unwrap());
        assert!(!prod.passed, "{prod:?}");
        assert!(
            prod.failures.iter().any(|f| f == "api: readiness-probe"),
            "{prod:?}"
        );
    }
}
