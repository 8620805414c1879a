//! YAML as a tree of nodes that remember where they came from.
//!
//! berth reads YAML into this tree rather than straight into its model, so that
//! environment overlays can be merged node by node and every later error — a bad
//! value, a dangling reference, a cycle — can point at the exact spot in the file.

mod de;
mod emit;
mod merge;
mod parse;

pub use de::{DeError, from_node};
pub use emit::to_yaml;
pub use merge::merge;
pub use parse::parse;

use std::sync::Arc;

use indexmap::IndexMap;

use crate::source::Span;

#[derive(Clone, Debug)]
pub struct Node {
    /// Shared, so that copying a tree to merge an overlay onto it copies only what
    /// the overlay changes.
    pub value: Arc<Value>,
    pub span: Span,
    /// A local tag such as compose's `!reset`, as written.
    pub tag: Option<Arc<str>>,
}

#[derive(Clone, Debug)]
pub enum Value {
    /// A scalar's text, and whether it was written plain (unquoted), which decides
    /// whether `3001` is a number and `~` is null.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(IndexMap<String, Entry>),
}

/// A mapping entry: the key's own span, for errors about the key, and its value.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key_span: Span,
    pub value: Node,
}

/// What a plain scalar means under YAML 1.2's core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node {
            value: Arc::new(value),
            span,
            tag: None,
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Entry>> {
        match &*self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &*self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.resolve(), Some(Resolved::Null))
    }

    /// The entry under `key`, when this node is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.get(key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    fn list_item(&self, text: &str) -> Option<&Node> {
        match &*self.value {
            Value::Seq(items) => items.iter().find(|item| item.as_str() == Some(text)),
            _ => None,
        }
    }

    /// The node at a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The span of the last key of `path`, falling back to the nearest parent that exists.
    pub fn key_span(&self, path: &[&str]) -> Span {
        let mut span = self.span;
        let mut node = self;
        for key in path {
            if let Some(entry) = node.entry(key) {
                span = entry.key_span;
                node = &entry.value;
            } else if let Some(item) = node.list_item(key) {
                // A list of names, as `depends_on: [a, b]`: the item is the key.
                span = item.span;
                node = item;
            } else {
                break;
            }
        }
        span
    }

    /// The span of the last key of `path`, only if the whole path is there.
    pub fn find_key(&self, path: &[&str]) -> Option<Span> {
        let mut span = None;
        let mut node = self;
        for key in path {
            let (key_span, next) = match node.entry(key) {
                Some(entry) => (entry.key_span, &entry.value),
                None => {
                    let item = node.list_item(key)?;
                    (item.span, item)
                }
            };
            span = Some(key_span);
            node = next;
        }
        span
    }

    /// The span of the value at `path`, falling back to the nearest parent that exists.
    pub fn value_span(&self, path: &[&str]) -> Span {
        match self.at(path) {
            Some(node) => node.span,
            None => self.key_span(path),
        }
    }

    pub fn resolve(&self) -> Option<Resolved<'_>> {
        match &*self.value {
            Value::Scalar { text, plain: true } => Some(resolve_plain(text)),
            Value::Scalar { text, plain: false } => Some(Resolved::Str(text)),
            _ => None,
        }
    }

    /// The node as JSON, scalars resolved as YAML reads them: for validating a
    /// file against the JSON Schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &*self.value {
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(map) => Json::Object(
                map.iter()
                    .map(|(key, entry)| (key.clone(), entry.value.to_json()))
                    .collect(),
            ),
            Value::Scalar { .. } => match self.resolve().expect("scalar") {
                Resolved::Null => Json::Null,
                Resolved::Bool(b) => Json::Bool(b),
                Resolved::Int(i) => Json::from(i),
                Resolved::Float(f) => {
                    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
                }
                Resolved::Str(s) => Json::String(s.to_owned()),
            },
        }
    }

    /// What the node is, in the words of an error message.
    pub fn describe(&self) -> String {
        match self.resolve() {
            Some(Resolved::Null) => "nothing (null)".to_owned(),
            Some(Resolved::Bool(b)) => format!("boolean `{b}`"),
            Some(Resolved::Int(i)) => format!("integer `{i}`"),
            Some(Resolved::Float(f)) => format!("number `{f}`"),
            Some(Resolved::Str(s)) => format!("string \"{s}\""),
            None if matches!(*self.value, Value::Seq(_)) => "a list".to_owned(),
            None => "a mapping".to_owned(),
        }
    }
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = parse_int(text) {
        return Resolved::Int(int);
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain("true"), Resolved::Bool(true));
        assert_eq!(resolve_plain("3001"), Resolved::Int(3001));
        assert_eq!(resolve_plain("-7"), Resolved::Int(-7));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("0.5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("250m"), Resolved::Str("250m"));
        assert_eq!(resolve_plain("1.4.2"), Resolved::Str("1.4.2"));
        assert_eq!(resolve_plain("yes"), Resolved::Str("yes"));
    }
}
