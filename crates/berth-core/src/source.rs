//! A loaded file's text and the byte spans that point into it.

use std::sync::Arc;

/// A byte range in a [`SourceFile`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.len()).into()
    }
}

/// The text of one file, shared by every problem that points into it.
#[derive(Clone, Debug)]
pub struct SourceFile(Arc<Contents>);

#[derive(Debug)]
struct Contents {
    name: String,
    text: Arc<str>,
    /// The text with its control characters replaced, byte for byte, when it has
    /// any: snippets must not hand a file's terminal escapes to the terminal.
    printable: Option<Arc<str>>,
    line_starts: Vec<usize>,
}

/// A 1-based line and column, as editors show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineColumn {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let printable = has_controls(&text).then(|| printable(&text).into());
        SourceFile(Arc::new(Contents {
            name: name.into(),
            text,
            printable,
            line_starts,
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// The text as snippets show it: control characters other than line ends and
    /// tabs as `?`, one for each byte, so that every span still points at its place.
    pub fn printable_text(&self) -> &str {
        self.0.printable.as_deref().unwrap_or(&self.0.text)
    }

    /// The length in bytes of the longest line from the one before `start`'s to
    /// the one after `end`'s: what a snippet around them shows.
    pub fn longest_line_around(&self, start: usize, end: usize) -> usize {
        let starts = &self.0.line_starts;
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset) - 1;
        let first = line_of(start).saturating_sub(1);
        let last = (line_of(end) + 1).min(starts.len() - 1);
        (first..=last)
            .map(|line| {
                let end = starts.get(line + 1).copied().unwrap_or(self.text().len());
                end - starts[line]
            })
            .max()
            .unwrap_or(0)
    }

    /// Line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> LineColumn {
        let starts = &self.0.line_starts;
        let line = starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text()[starts[line]..offset].chars().count() + 1;
        LineColumn {
            line: line + 1,
            column,
        }
    }
}

fn is_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t' | '\r')
}

fn has_controls(text: &str) -> bool {
    text.chars().any(is_control)
}

fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_control(c) {
                "?".repeat(c.len_utf8())
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one_and_in_characters() {
        let file = SourceFile::new("f", "a: 1\nbé: 2\n");
        assert_eq!(file.line_column(0), LineColumn { line: 1, column: 1 });
        assert_eq!(file.line_column(5), LineColumn { line: 2, column: 1 });
        // 'é' is two bytes; the ':' after it is the third character.
        assert_eq!(file.line_column(8), LineColumn { line: 2, column: 3 });
    }

    #[test]
    fn printable_text_keeps_every_offset() {
        let file = SourceFile::new("f", "a: \u{1b}[31mred\u{9b}\nb: é\n");
        assert_eq!(file.printable_text(), "a: ?[31mred??\nb: é\n");
        assert_eq!(file.printable_text().len(), file.text().len());
        assert_eq!(file.longest_line_around(0, 0), 14);
        assert_eq!(file.longest_line_around(15, 15), 14);
    }
}
