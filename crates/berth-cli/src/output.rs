//! How results and problems reach the terminal: text for people, JSON for machines.

use std::io::IsTerminal;

use berth_core::Problems;
use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::cli::Format;

/// Prints problems on stderr: with the YAML snippet and a caret for people, or as
/// `{"errors": [...]}` on stdout for machines.
pub fn problems(problems: &Problems, format: Format) {
    if format == Format::Json {
        let errors: Vec<_> = problems.iter().map(|p| p.to_json()).collect();
        json(&serde_json::json!({ "errors": errors }));
        return;
    }
    let theme = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    for problem in problems.iter() {
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, problem)
            .expect("writing to a String");
        match problem.location() {
            Some(location) if problem.span().is_none() => eprintln!("{location}: {rendered}"),
            _ => eprintln!("{rendered}"),
        }
    }
    if problems.len() > 1 {
        eprintln!("error: {} problems found", problems.len());
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("results serialize to JSON")
    );
}
