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
#[derive(Clone)]
pub struct At {
    pub file: SourceFile,
    pub span: Span,
}

impl At {
    pub fn location(&self) -> String {
        let place = self.file.line_column(self.span.start);
        format!("{}:{}:{}", self.file.name(), place.line, place.column)
    }
}

#[derive(Default)]
pub struct Notes(pub Vec<Note>);

impl Notes {
    /// A note on what is written at `at`; once, however many services share
    /// it through an anchor.
    pub fn add(&mut self, at: &At, message: impl Into<String>) {
        let note = Note {
            location: at.location(),
            message: message.into(),
        };
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
}
