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
    for problem in problems.iter().take(SHOWN_PROBLEMS) {
        let (problem, elsewhere) = printable(problem).split_far();
        for part in std::iter::once(problem).chain(elsewhere) {
            let mut rendered = String::new();
            handler
                .render_report(&mut rendered, &part)
                .expect("writing to a String");
            match part.location() {
                Some(location) if !part.shows_snippet() => eprintln!("{location}: {rendered}"),
                _ => eprintln!("{rendered}"),
            }
        }
    }
    if problems.len() > SHOWN_PROBLEMS {
        eprintln!(
            "error: {} problems found; the first {SHOWN_PROBLEMS} are shown (`-o json` lists all)",
            problems.len()
        );
    } else if problems.len() > 1 {
        eprintln!("error: {} problems found", problems.len());
    }
}

/// How many problems are shown in full; past it, a count says how many more.
const SHOWN_PROBLEMS: usize = 50;

/// The problem with the control characters of its message and help escaped: both
/// may quote names and values from the file.
fn printable(problem: &berth_core::Problem) -> berth_core::Problem {
    let escape = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '\n' => c.to_string(),
                c if c.is_control() => c.escape_unicode().to_string(),
                c => c.to_string(),
            })
            .collect()
    };
    let mut problem = problem.clone();
    problem.message = escape(&problem.message);
    problem.help = problem.help.as_deref().map(escape);
    problem
}

/// Colour for table cells on stdout: only to a terminal, and never with NO_COLOR.
#[derive(Clone, Copy)]
pub struct Paint(bool);

impl Paint {
    pub fn stdout() -> Paint {
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    pub fn green(self, text: &str) -> String {
        self.ansi("32", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.ansi("33", text)
    }

    pub fn red(self, text: &str) -> String {
        self.ansi("31", text)
    }

    fn ansi(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("results serialize to JSON")
    );
}
