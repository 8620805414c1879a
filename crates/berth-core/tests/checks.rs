//! Each check has a fixture, `checks/<id>.yaml`, whose services are named for what
//! the check must say of them: `pass-…`, `fail-…` or `na-…` (does not apply).

use std::path::Path;

use berth_core::check::{Outcome, RULES, Subject};
use berth_core::load_path;

#[test]
fn every_check_says_what_its_fixture_expects() {
    for rule in RULES {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/checks/{}.yaml", rule.id()));
        assert!(
            path.is_file(),
            "check `{}` has no fixture at {}",
            rule.id(),
            path.display()
        );
        let project = load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ecosystem = project.ecosystem(None).unwrap();
        let mut seen = (0, 0);
        for (name, service) in &ecosystem.services {
            let outcome = rule.check(&Subject {
                name,
                service,
                ecosystem,
            });
            let expected = name.split('-').next().unwrap();
            match (expected, &outcome) {
                ("pass", Outcome::Pass) => seen.0 += 1,
                ("fail", Outcome::Fail(reason)) => {
                    assert!(!reason.is_empty());
                    seen.1 += 1;
                }
                ("na", Outcome::NotApplicable) => {}
                _ => panic!(
                    "{}: `{name}` expected {expected}, got {outcome:?}",
                    rule.id()
                ),
            }
        }
        assert!(
            seen.0 > 0 && seen.1 > 0,
            "{}: the fixture needs a passing and a failing service",
            rule.id()
        );
    }
}

#[test]
fn check_ids_are_unique_and_described() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len());
    for rule in RULES {
        assert!(
            !rule.description().is_empty() && !rule.hint().is_empty(),
            "{}",
            rule.id()
        );
    }
}

#[test]
fn a_waiver_excuses_a_failure_and_shows_its_reason() {
    let yaml = "name: w\nservices:\n  api:\n    image: a:latest\n    ports: { http: 9001 }\n    health: { readiness: /ready }\n    resources: { cpu: 100m, memory: 64Mi }\n    waive: { image-pinned: upstream publishes only latest }\nenvironments:\n  k8s: { runtime: kubernetes }\n";
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    let report = berth_core::check::check(project.ecosystem(None).unwrap());
    let waived: Vec<_> = report.services[0].waived().map(|f| f.rule.id()).collect();
    assert_eq!(waived, ["image-pinned"]);
    assert!(report.passed());
    assert_eq!(report.score(), "1/1 services compliant (100%)");
}

#[test]
fn standards_can_turn_a_check_off_or_make_a_warning_required() {
    let yaml = "name: w\nstandards: { checks: { resource-requests: off, resource-limits: error } }\nservices:\n  api:\n    image: a:1\n    ports: { http: 9001 }\n    health: { readiness: /ready }\n";
    let project = berth_core::load_str("berth.yaml", yaml).unwrap();
    let report = berth_core::check::check(project.ecosystem(None).unwrap());
    let failed: Vec<_> = report.services[0].failures().map(|f| f.rule.id()).collect();
    assert_eq!(failed, ["resource-limits"]);
    assert!(!report.passed());
}
