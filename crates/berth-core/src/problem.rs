//! User errors: what is wrong, where in berth.yaml, and what to do about it.

use std::collections::HashMap;
use std::fmt;

use miette::{Diagnostic, LabeledSpan};
use serde::Serialize;

use crate::source::{SourceFile, Span};

/// How far apart, in lines, two labels may be and still share a snippet.
const NEAR_LINES: usize = 6;

/// The longest line, in bytes, that a diagnostic shows in its snippet.
const LONGEST_SNIPPET_LINE: usize = 400;

/// One thing wrong with the user's input, pointing at the place it comes from.
#[derive(Clone, Debug)]
pub struct Problem {
    pub message: String,
    pub help: Option<String>,
    /// The environment whose overlay produced the problem, when only one does.
    pub environment: Option<String>,
    /// The primary label first, then secondary ones.
    labels: Vec<(Span, String)>,
    file: Option<SourceFile>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            help: None,
            environment: None,
            labels: Vec::new(),
            file: None,
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.insert(0, (span, label.into()));
        self
    }

    /// A secondary label; call after [`Problem::at`].
    pub fn also_at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn in_file(mut self, file: &SourceFile) -> Self {
        self.file = Some(file.clone());
        self
    }

    pub fn span(&self) -> Option<Span> {
        self.labels.first().map(|(span, _)| *span)
    }

    /// Whether the diagnostic shows the file's lines: not when one of the lines it
    /// would show is too long, where the location alone says more than a screen of
    /// text (and past column 65,535 the renderer cannot place a label).
    pub fn shows_snippet(&self) -> bool {
        let (Some(file), Some(start), Some(end)) = (
            self.file.as_ref(),
            self.labels.iter().map(|(span, _)| span.start).min(),
            self.labels.iter().map(|(span, _)| span.end).max(),
        ) else {
            return false;
        };
        file.longest_line_around(start, end) <= LONGEST_SNIPPET_LINE
    }

    /// The problem with only the labels near its first, and one problem for each
    /// label far from it (more than [`NEAR_LINES`] lines away): a snippet spanning
    /// both would print every line between them.
    pub fn split_far(&self) -> (Problem, Vec<Problem>) {
        let (Some(file), Some(first)) = (&self.file, self.span()) else {
            return (self.clone(), Vec::new());
        };
        let line = |span: &Span| file.line_column(span.start).line;
        let (near, far): (Vec<_>, Vec<_>) = self
            .labels
            .iter()
            .cloned()
            .partition(|(span, _)| line(span).abs_diff(line(&first)) <= NEAR_LINES);
        let elsewhere = far
            .into_iter()
            .map(|(span, label)| Problem::new(label.clone()).at(span, label).in_file(file))
            .collect();
        (
            Problem {
                labels: near,
                ..self.clone()
            },
            elsewhere,
        )
    }

    /// `file:line:column`, or the file name alone when the problem has no span.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.span() {
            Some(span) => {
                let at = file.line_column(span.start);
                format!("{}:{}:{}", file.name(), at.line, at.column)
            }
            None => file.name().to_owned(),
        })
    }

    /// The machine-readable form used by `--output json`.
    pub fn to_json(&self) -> ProblemJson {
        let at = self
            .file
            .as_ref()
            .zip(self.span())
            .map(|(file, span)| file.line_column(span.start));
        ProblemJson {
            message: self.message.clone(),
            file: self.file.as_ref().map(|f| f.name().to_owned()),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
            help: self.help.clone(),
            environment: self.environment.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ProblemJson {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
    pub environment: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(environment) = &self.environment {
            let noun = if environment.contains('`') {
                "environments"
            } else {
                "environment"
            };
            write!(f, " (in {noun} `{environment}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.file
            .as_ref()
            .filter(|_| self.shows_snippet())
            .map(|f| f as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (primary, secondary) = self.labels.split_first()?;
        let labels = std::iter::once(LabeledSpan::new_primary_with_span(
            Some(primary.1.clone()),
            primary.0,
        ))
        .chain(
            secondary
                .iter()
                .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span)),
        );
        Some(Box::new(labels))
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents =
            self.printable_text()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name().to_owned(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// Every problem found in one pass over the input; never empty.
#[derive(Clone, Debug)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn one(problem: Problem) -> Self {
        Problems(vec![problem])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if let Some(location) = problem.location() {
                write!(f, "{location}: ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Collects problems found in each environment, keeping one of each — two are the
/// same when they say the same thing about the same place: a problem found in every
/// environment is a problem of the base file; one found in some is tagged with their
/// names.
#[derive(Default)]
pub struct ProblemSink {
    problems: Vec<(Problem, Vec<String>)>,
    /// Where each problem is in `problems`, by what makes two the same.
    seen: HashMap<(String, Option<Span>), usize>,
}

impl ProblemSink {
    /// A problem of the file itself, whatever the environment.
    pub fn push(&mut self, problem: Problem) {
        self.push_in(problem, None);
    }

    pub fn push_in(&mut self, problem: Problem, environment: Option<&str>) {
        let environments: Vec<String> = environment.map(str::to_owned).into_iter().collect();
        let key = (problem.message.clone(), problem.span());
        match self.seen.get(&key) {
            Some(&index) => self.problems[index].1.extend(environments),
            None => {
                self.seen.insert(key, self.problems.len());
                self.problems.push((problem, environments));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn len(&self) -> usize {
        self.problems.len()
    }

    /// `environments` is how many environments were loaded.
    pub fn finish(self, environments: usize) -> Result<(), Problems> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut problems: Vec<Problem> = self
            .problems
            .into_iter()
            .map(|(mut problem, found_in)| {
                if !found_in.is_empty() && found_in.len() < environments {
                    problem.environment = Some(found_in.join("`, `"));
                }
                problem
            })
            .collect();
        // In file order, as the reader fixes them; what has no place comes last.
        problems.sort_by_key(|problem| problem.span().map_or(usize::MAX, |span| span.start));
        Err(Problems(problems))
    }
}

/// The known name closest to `wrong`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(wrong, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// "did you mean `x`?" when a known name is close to `wrong`; otherwise what
/// `otherwise` says.
pub fn suggestion<'a>(
    wrong: &str,
    known: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    match did_you_mean(wrong, known) {
        Some(close) => format!("did you mean `{close}`?"),
        None => otherwise(),
    }
}

/// "there is no service `x`", pointing at `span`, with the closest known name or
/// the list of them.
pub fn unknown_name<'a>(
    noun: &str,
    name: &str,
    span: Span,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> Problem {
    let help = suggestion(name, known.clone(), || {
        format!("the {noun}s are {}", quoted_list(known))
    });
    Problem::new(format!("there is no {noun} `{name}`"))
        .at(span, format!("unknown {noun}"))
        .help(help)
}

/// `a`, `b` and `c` — for listing the names a user could have meant.
pub fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.len() {
        0 => "none".to_owned(),
        1 => names[0].clone(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}
