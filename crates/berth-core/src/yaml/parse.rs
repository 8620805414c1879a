//! Builds the node tree from saphyr's event stream.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use super::{Entry, Node, Value};
use crate::problem::Problem;
use crate::source::{SourceFile, Span};

/// How deep mappings and lists may nest. berth.yaml needs a dozen levels; every
/// later pass walks the tree recursively, so a limit here keeps them all on the stack.
const MAX_DEPTH: usize = 128;

/// How many nodes the file may expand to once aliases are followed: a thousand
/// services need some 50,000; a few kilobytes of aliases to aliases would need
/// billions.
const MAX_EXPANDED_NODES: usize = 2_000_000;

/// Parses one YAML document. An empty file is an empty mapping.
pub fn parse(file: &SourceFile) -> Result<Node, Problem> {
    let offsets = ByteOffsets::new(file.text());
    let mut builder = Builder {
        text: file.text(),
        events: Parser::new_from_str(file.text()),
        offsets: &offsets,
        anchors: HashMap::new(),
        depth: 0,
        expanded: 0,
    };
    builder.document().map_err(|p| p.in_file(file))
}

/// saphyr counts positions in characters; miette and slices want bytes.
struct ByteOffsets(Option<Vec<usize>>);

impl ByteOffsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return ByteOffsets(None);
        }
        let mut table: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        table.push(text.len());
        ByteOffsets(Some(table))
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.0 {
            None => char_index,
            Some(table) => table[char_index.min(table.len() - 1)],
        }
    }

    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span::new(self.byte(span.start.index()), self.byte(span.end.index()))
    }
}

struct Builder<'a> {
    text: &'a str,
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    offsets: &'a ByteOffsets,
    /// Each anchored node, with the number of nodes it expands to.
    anchors: HashMap<usize, (Node, usize)>,
    depth: usize,
    /// Nodes built so far, counting each alias as the nodes it stands for.
    expanded: usize,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Problem> {
        match self.events.next() {
            Some(Ok((event, span))) => Ok((event, self.offsets.span(span))),
            Some(Err(error)) => Err(self.syntax_error(&error)),
            None => Err(Problem::new("unexpected end of YAML")),
        }
    }

    fn syntax_error(&self, error: &ScanError) -> Problem {
        let at = self.offsets.byte(error.marker().index());
        Problem::new(format!("invalid YAML: {}", error.info()))
            .at(Span::new(at, at), "here")
            .help("fix the YAML syntax; a common cause is a tab or a wrongly indented line")
    }

    fn document(&mut self) -> Result<Node, Problem> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(_) => continue,
                Event::StreamEnd => {
                    return Ok(Node::new(Value::Map(IndexMap::new()), span));
                }
                other => {
                    let root = self.node(other, span)?;
                    self.expect_single_document()?;
                    return Ok(root);
                }
            }
        }
    }

    fn expect_single_document(&mut self) -> Result<(), Problem> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::DocumentEnd => continue,
                Event::StreamEnd => return Ok(()),
                _ => {
                    return Err(Problem::new("the file holds more than one YAML document")
                        .at(span, "a second document starts here")
                        .help("keep it all in one document; remove the `---` line"));
                }
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, Problem> {
        let before = self.expanded;
        self.count(1, span)?;
        let tag = match &event {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, tag)
            | Event::MappingStart(_, tag) => tag
                .as_ref()
                .map(|tag| Arc::from(format!("{}{}", tag.handle, tag.suffix))),
            _ => None,
        };
        let (mut node, anchor) = match event {
            Event::Scalar(text, style, anchor, _) => {
                let value = Value::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                };
                // The scanner's span of a flow scalar can take in the blank after it.
                let trimmed = self.text[span.start..span.end].trim_end().len();
                let span = Span::new(span.start, span.start + trimmed);
                (Node::new(value, span), anchor)
            }
            Event::SequenceStart(anchor, _) => (self.nested(span, Self::sequence)?, anchor),
            Event::MappingStart(anchor, _) => (self.nested(span, Self::mapping)?, anchor),
            Event::Alias(anchor) => {
                let (mut node, size) = self.anchors.get(&anchor).cloned().ok_or_else(|| {
                    Problem::new("alias to an unknown anchor").at(span, "no anchor of this name")
                })?;
                self.count(size, span)?;
                node.span = span;
                return Ok(node);
            }
            _ => return Err(Problem::new("unexpected YAML structure").at(span, "here")),
        };
        node.tag = tag;
        if anchor > 0 {
            self.anchors
                .insert(anchor, (node.clone(), self.expanded - before));
        }
        Ok(node)
    }

    fn nested(
        &mut self,
        span: Span,
        build: fn(&mut Self, Span) -> Result<Node, Problem>,
    ) -> Result<Node, Problem> {
        if self.depth == MAX_DEPTH {
            return Err(Problem::new(format!(
                "mappings and lists nest more than {MAX_DEPTH} deep"
            ))
            .at(span, "too deep here")
            .help("berth.yaml needs only a few levels; flatten this part of the file"));
        }
        self.depth += 1;
        let node = build(self, span);
        self.depth -= 1;
        node
    }

    fn count(&mut self, nodes: usize, span: Span) -> Result<(), Problem> {
        self.expanded = self.expanded.saturating_add(nodes);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(Problem::new(format!(
                "the file expands to more than {MAX_EXPANDED_NODES} values once its aliases are followed"
            ))
            .at(span, "the limit is passed here")
            .help("aliases that repeat aliases grow exponentially; write the shared settings once and refer to them directly"));
        }
        Ok(())
    }

    fn sequence(&mut self, start: Span) -> Result<Node, Problem> {
        let mut items = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if let Event::SequenceEnd = event {
                let end = span.end.max(start.end);
                return Ok(Node::new(Value::Seq(items), Span::new(start.start, end)));
            }
            items.push(self.node(event, span)?);
        }
    }

    fn mapping(&mut self, start: Span) -> Result<Node, Problem> {
        let mut map: IndexMap<String, Entry> = IndexMap::new();
        let mut merged: Vec<Node> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                Event::Scalar(text, _, _, _) => text.into_owned(),
                other => {
                    let key = self.node(other, key_span)?;
                    return Err(Problem::new("a mapping key must be a plain name")
                        .at(key.span, "this key is a list or a mapping")
                        .help("write keys as simple strings"));
                }
            };
            let (event, span) = self.next()?;
            let value = self.node(event, span)?;
            if key == "<<" {
                merged.push(value);
                continue;
            }
            if let Some(first) = map.get(&key) {
                return Err(Problem::new(format!("duplicate key `{key}`"))
                    .at(key_span, "second definition")
                    .also_at(first.key_span, "first defined here")
                    .help("remove one of the two, or merge them"));
            }
            map.insert(key, Entry { key_span, value });
        }
        apply_merge_keys(&mut map, merged)?;
        // A mapping is pointed at by where it starts: a label over a whole block would
        // bury the message, and errors about its contents point at the keys instead.
        Ok(Node::new(Value::Map(map), start))
    }
}

/// YAML's `<<: *anchor` merge key, which compose files use for shared settings: the
/// merged mapping's keys fill in what the mapping does not set itself.
fn apply_merge_keys(map: &mut IndexMap<String, Entry>, merged: Vec<Node>) -> Result<(), Problem> {
    for source in &merged {
        let sources = match &*source.value {
            Value::Seq(items) => items.as_slice(),
            _ => std::slice::from_ref(source),
        };
        for source in sources {
            let Value::Map(entries) = &*source.value else {
                return Err(Problem::new("`<<` merges only mappings")
                    .at(source.span, "not a mapping")
                    .help("point `<<:` at an anchored mapping, as in `<<: *defaults`"));
            };
            for (key, entry) in entries {
                map.entry(key.clone()).or_insert_with(|| entry.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Problem> {
        parse(&SourceFile::new("t.yaml", text))
    }

    #[test]
    fn keys_and_values_keep_their_spans() {
        let text = "name: demo\nservices:\n  web: { image: 'nginx:1' }\n";
        let root = parse_str(text).unwrap();
        let span = root.key_span(&["services", "web"]);
        assert_eq!(&text[span.start..span.end], "web");
        let image = root.at(&["services", "web", "image"]).unwrap();
        assert_eq!(image.as_str(), Some("nginx:1"));
        assert_eq!(&text[image.span.start..image.span.end], "'nginx:1'");
    }

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let text = "description: Distillara™ alchemy\nname: x\n";
        let root = parse_str(text).unwrap();
        let span = root.key_span(&["name"]);
        assert_eq!(&text[span.start..span.end], "name");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let problem = parse_str("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(problem.message, "duplicate key `a`");
        assert_eq!(problem.location().unwrap(), "t.yaml:3:1");
    }

    #[test]
    fn merge_keys_fill_in_unset_keys() {
        let root = parse_str("base: &b { a: 1, b: 2 }\nx: { <<: *b, b: 3 }\n").unwrap();
        assert_eq!(root.at(&["x", "a"]).unwrap().as_str(), Some("1"));
        assert_eq!(root.at(&["x", "b"]).unwrap().as_str(), Some("3"));
    }

    #[test]
    fn syntax_errors_point_at_the_spot() {
        let problem = parse_str("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(
            problem.message.starts_with("invalid YAML"),
            "{}",
            problem.message
        );
        assert!(problem.location().unwrap().starts_with("t.yaml:"));
    }

    #[test]
    fn deep_nesting_is_refused_where_it_passes_the_limit() {
        // 16,000 levels of block lists overflowed the stack before the limit.
        let lists: String = (0..16_000)
            .map(|i| format!("{}- \n", "  ".repeat(i)))
            .collect();
        let problem = parse_str(&lists).unwrap_err();
        assert!(
            problem.message.contains("nest more than 128"),
            "{}",
            problem.message
        );
        assert_eq!(problem.location().unwrap(), "t.yaml:129:257");
        let maps: String = (0..8_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(
            parse_str(&maps)
                .unwrap_err()
                .message
                .contains("nest more than")
        );
        let flow = format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_str(&flow).is_err());
        let fine: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(parse_str(&fine).is_ok());
    }

    #[test]
    fn aliases_that_multiply_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let j = i - 1;
            text += &format!(
                "a{i}: &a{i} [*a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}]\n"
            );
        }
        let problem = parse_str(&text).unwrap_err();
        assert!(
            problem.message.contains("once its aliases are followed"),
            "{}",
            problem.message
        );
        let mut merges = String::from("m0: &m0 { k0: 1, k1: 2, k2: 3, k3: 4 }\n");
        for i in 1..40 {
            let j = i - 1;
            merges += &format!("m{i}: &m{i} {{ <<: [*m{j}, *m{j}, *m{j}, *m{j}], k{i}x: 1 }}\n");
        }
        assert!(parse_str(&merges).is_err());
    }
}
