//! The compose files read as located YAML: every value with the file and the
//! place it was written, and the keys of one service gathered across files.

use berth_core::source::SourceFile;
use berth_core::yaml::{Node, Resolved, Value};
use indexmap::IndexMap;

use crate::note::At;

/// One value of a compose file, and where it was written.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub at: At<'a>,
    pub node: &'a Node,
}

impl<'a> Field<'a> {
    pub fn text(&self) -> Option<String> {
        scalar(self.node)
    }

    /// The items of a list (none for anything else).
    pub fn items(&self) -> Vec<Field<'a>> {
        match &*self.node.value {
            Value::Seq(items) => items.iter().map(|node| self.with(node)).collect(),
            _ => Vec::new(),
        }
    }

    /// The entries of a mapping, `<<` merge keys expanded (none for anything else).
    pub fn entries(&self) -> IndexMap<String, Field<'a>> {
        let mut entries = IndexMap::new();
        let Value::Map(map) = &*self.node.value else {
            return entries;
        };
        if let Some(merged) = map.get("<<") {
            let merged = self.with(&merged.value);
            let sources = match &*merged.node.value {
                Value::Seq(_) => merged.items(),
                _ => vec![merged],
            };
            for source in sources {
                entries.extend(source.entries());
            }
        }
        for (key, entry) in map.iter().filter(|(key, _)| *key != "<<") {
            let at = At {
                file: self.at.file,
                span: entry.key_span,
            };
            entries.insert(
                key.clone(),
                Field {
                    at,
                    node: &entry.value,
                },
            );
        }
        entries
    }

    pub fn is_map(&self) -> bool {
        matches!(&*self.node.value, Value::Map(_))
    }

    fn with(&self, node: &'a Node) -> Field<'a> {
        Field {
            at: At {
                file: self.at.file,
                span: node.span,
            },
            node,
        }
    }
}

/// A scalar's text as compose reads it: numbers and booleans as written.
pub fn scalar(node: &Node) -> Option<String> {
    match (&*node.value, node.resolve()?) {
        (_, Resolved::Null) => None,
        (Value::Scalar { text, .. }, _) => Some(text.clone()),
        _ => None,
    }
}

/// The top of one compose file.
pub fn root<'a>(file: &'a SourceFile, node: &'a Node) -> Field<'a> {
    Field {
        at: At {
            file,
            span: node.span,
        },
        node,
    }
}

/// A service's keys across the files that define it; for each key, every
/// definition in file order.
pub type Definitions<'a> = IndexMap<String, Vec<Field<'a>>>;

/// The last definition of `key`: a later file overrides an earlier one.
pub fn last<'a>(service: &Definitions<'a>, key: &str) -> Option<Field<'a>> {
    service.get(key).and_then(|all| all.last().copied())
}

/// The text of the last definition of `key`.
pub fn last_text(service: &Definitions, key: &str) -> Option<String> {
    last(service, key).and_then(|field| field.text())
}
