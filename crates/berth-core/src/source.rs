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
        SourceFile(Arc::new(Contents {
            name: name.into(),
            text,
            line_starts,
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn text(&self) -> &str {
        &self.0.text
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

    /// The source in the form miette renders snippets from.
    pub fn named_source(&self) -> miette::NamedSource<Arc<str>> {
        miette::NamedSource::new(self.name(), self.0.text.clone()).with_language("yaml")
    }
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
}
