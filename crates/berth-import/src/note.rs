//! What an import could not carry over, and where it was written.

use std::fmt;

use berth_core::source::{SourceFile, Span};

/// One thing of the source that berth.yaml does not say, or says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// `file:line:column` of what the note is about.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A place in one of the source files.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub file: &'a SourceFile,
    pub span: Span,
}

#[derive(Default)]
pub struct Notes(pub Vec<Note>);

impl Notes {
    pub fn add(&mut self, at: At, message: impl Into<String>) {
        let place = at.file.line_column(at.span.start);
        self.0.push(Note {
            location: format!("{}:{}:{}", at.file.name(), place.line, place.column),
            message: message.into(),
        });
    }
}
