//! `berth check`: the standards table and the ecosystem's score.

use berth_core::Problems;
use berth_core::check::{self, Finding, Report, Status};
use berth_core::model::Level;

use super::{Exit, ecosystem};
use crate::cli::{Format, Global};
use crate::output::{self, Paint};

pub fn run(global: &Global, list: bool) -> Result<Exit, Problems> {
    if list {
        print_rules(global.output);
        return Ok(Exit::Success);
    }
    ecosystem(global, |_, ecosystem| {
        let report = check::check(ecosystem);
        match global.output {
            Format::Json => output::json(&report),
            Format::Text => print!("{}", render(&report, Paint::stdout())),
        }
        Ok(if report.passed() {
            Exit::Success
        } else {
            Exit::Failed
        })
    })
}

fn print_rules(format: Format) {
    if format == Format::Json {
        let rules: Vec<_> = check::RULES
            .iter()
            .map(|r| serde_json::json!({"id": r.id(), "level": r.level(), "description": r.description(), "hint": r.hint()}))
            .collect();
        output::json(&rules);
        return;
    }
    for rule in check::RULES {
        println!(
            "{:<22} {:<8} {}",
            rule.id(),
            level(rule.level()),
            rule.description()
        );
    }
}

/// The report as text: one line per service, then what failed and how to fix it.
pub fn render(report: &Report, paint: Paint) -> String {
    let mut out = format!(
        "Checking {} in environment {} ({} services)\n\n",
        report.ecosystem,
        report.environment,
        report.services.len()
    );
    let width = report
        .services
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    out += &format!("{:<width$}  RESULT  FAILED\n", "SERVICE");
    for service in &report.services {
        let failed: Vec<&str> = service.failures().map(|f| f.rule.id()).collect();
        // Padded first: the colour's escapes take no room on screen.
        let result = if service.compliant() {
            paint.green("pass  ")
        } else {
            paint.red("FAIL  ")
        };
        out += format!("{:<width$}  {result}  {}", service.name, failed.join(", ")).trim_end();
        out += "\n";
    }
    let sections = [
        ("Failures", Section::Failed(Level::Error)),
        ("Warnings", Section::Failed(Level::Warning)),
        ("Waived", Section::Waived),
    ];
    for (title, wanted) in sections {
        let lines: Vec<String> = report
            .services
            .iter()
            .flat_map(|s| s.findings.iter().map(move |f| (s, f)))
            .filter(|(_, f)| section_of(f) == Some(wanted))
            .map(|(s, f)| finding_line(&s.name, f))
            .collect();
        if !lines.is_empty() {
            out += &format!("\n{title}:\n{}", lines.concat());
        }
    }
    out += &format!("\n{}\n", report.score());
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Failed(Level),
    Waived,
}

/// Which section of the report lists a finding, if any.
fn section_of(finding: &Finding) -> Option<Section> {
    match finding.status {
        Status::Pass => None,
        Status::Fail { .. } => Some(Section::Failed(finding.level)),
        Status::Waived { .. } => Some(Section::Waived),
    }
}

fn finding_line(service: &str, finding: &Finding) -> String {
    match &finding.status {
        Status::Waived { reason, waiver } => {
            format!(
                "  {service}: {} — {reason}\n      waived: {waiver}\n",
                finding.rule.id()
            )
        }
        Status::Fail { reason } => format!(
            "  {service}: {} — {reason}\n      fix: {}\n",
            finding.rule.id(),
            finding.rule.hint()
        ),
        Status::Pass => String::new(),
    }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Off => "off",
    }
}
