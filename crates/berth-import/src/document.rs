//! The compose files read as located YAML: every value with the file and the
//! place it was written, its variables filled in as compose fills them, and
//! compose's tags (`!reset`, `!override`) kept for the merge.

use berth_core::source::SourceFile;
use berth_core::yaml::{Node, Resolved, Value};
use berth_core::{Problem, Problems};
use indexmap::IndexMap;

use crate::interpolate::{Interpolated, Variables};
use crate::note::At;

/// One value of a compose file, and where it was written: a mapping's entry
/// points at its key, a list's item at itself.
#[derive(Clone)]
pub struct Field {
    pub at: At,
    pub shape: Shape,
    pub tag: Option<String>,
}

#[derive(Clone)]
pub enum Shape {
    Null,
    Scalar(Interpolated),
    Seq(Vec<Field>),
    Map(IndexMap<String, Field>),
}

impl Field {
    pub fn new(at: At, shape: Shape) -> Field {
        Field {
            at,
            shape,
            tag: None,
        }
    }

    /// A scalar's text, variables filled in.
    pub fn text(&self) -> Option<String> {
        self.scalar().map(|s| s.text.clone())
    }

    pub fn scalar(&self) -> Option<&Interpolated> {
        match &self.shape {
            Shape::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The items of a list (none for anything else).
    pub fn items(&self) -> &[Field] {
        match &self.shape {
            Shape::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> IndexMap<String, Field> {
        match &self.shape {
            Shape::Map(map) => map.clone(),
            _ => IndexMap::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Field> {
        match &self.shape {
            Shape::Map(map) => map.get(key),
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.shape, Shape::Map(_))
    }
}

/// One compose file, parsed and its variables filled in. YAML that PyYAML and
/// compose read but a strict reader refuses — a flow list's closing bracket at
/// its key's indentation — is read as they read it.
pub fn read(file: &SourceFile, variables: &Variables) -> Result<Field, Problems> {
    let (file, node) = parse_leniently(file).map_err(Problems::one)?;
    let at = At {
        file: file.clone(),
        span: node.span,
    };
    Ok(convert(&file, &node, at, variables))
}

fn parse_leniently(file: &SourceFile) -> Result<(SourceFile, Node), Problem> {
    let first = match berth_core::yaml::parse(file) {
        Ok(node) => return Ok((file.clone(), node)),
        Err(problem) => problem,
    };
    let mut text = file.text().to_owned();
    // Each pass indents one more closing line; a file has only so many.
    for _ in 0..1000 {
        let Some(fixed) = indent_closing_line(&text) else {
            return Err(first);
        };
        text = fixed;
        let lenient = SourceFile::new(file.name(), text.as_str());
        if let Ok(node) = berth_core::yaml::parse(&lenient) {
            return Ok((lenient, node));
        }
    }
    Err(first)
}

/// The text with the first line that only closes a flow collection, at or
/// left of the line that opened it, indented one column past that line.
fn indent_closing_line(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    // The indentation of the line that opened each flow collection still open.
    let mut opened: Vec<usize> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let closing = !trimmed.is_empty()
            && trimmed
                .trim_end_matches(',')
                .chars()
                .all(|c| c == ']' || c == '}');
        if closing
            && let Some(&opener) = opened.last()
            && indent(line) <= opener
        {
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            out[index] = format!("{}{trimmed}", " ".repeat(opener + 1));
            return Some(out.join("\n"));
        }
        let mut quote = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => opened.push(indent(line)),
                (None, ']' | '}') => {
                    opened.pop();
                }
                (None, '#') => break,
                _ => {}
            }
        }
    }
    None
}

fn convert(file: &SourceFile, node: &Node, at: At, variables: &Variables) -> Field {
    let here = |span| At {
        file: file.clone(),
        span,
    };
    let shape = match &*node.value {
        Value::Scalar { .. } => match (node.resolve(), &*node.value) {
            (Some(Resolved::Null), _) => Shape::Null,
            (_, Value::Scalar { text, .. }) => Shape::Scalar(variables.interpolate(text)),
            _ => Shape::Null,
        },
        Value::Seq(items) => Shape::Seq(
            items
                .iter()
                .map(|item| convert(file, item, here(item.span), variables))
                .collect(),
        ),
        Value::Map(map) => Shape::Map(
            map.iter()
                .map(|(key, entry)| {
                    let field = convert(file, &entry.value, here(entry.key_span), variables);
                    (key.clone(), field)
                })
                .collect(),
        ),
    };
    Field {
        at,
        shape,
        tag: node.tag.as_deref().map(str::to_owned),
    }
}
