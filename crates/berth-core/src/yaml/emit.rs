//! YAML text for a JSON value, written the way kubectl writes it: block
//! mappings, list items at their key's indentation, a string quoted only where
//! a YAML 1.1 or 1.2 reader could take it for something else, and text of
//! several lines as a literal block. Rendering writes thousands of documents,
//! and a general serializer spent most of its time on them.

use std::fmt::Write;

use serde_json::Value;

/// One YAML document for `value`.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            inline(scalar, 0, &mut out);
            out.push('\n');
        }
    }
    out
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    mapping_from(map, indent, true, out);
}

/// The mapping's entries; the first one unpadded when `pad_first` is false, as
/// after a list item's dash.
fn mapping_from(
    map: &serde_json::Map<String, Value>,
    indent: usize,
    pad_first: bool,
    out: &mut String,
) {
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 || pad_first {
            pad(indent, out);
        }
        if is_plain(key) {
            out.push_str(key);
        } else {
            quoted(key, out);
        }
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(items, indent, out);
            }
            scalar => {
                out.push(' ');
                inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        pad(indent, out);
        out.push('-');
        match item {
            Value::Object(inner) if !inner.is_empty() => {
                // The first key follows the dash; the rest line up under it.
                out.push(' ');
                mapping_from(inner, indent + 2, false, out);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            scalar => {
                out.push(' ');
                inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

/// A scalar, or an empty mapping or list, after a key or a dash.
fn inline(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(s, indent, out),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn string(text: &str, indent: usize, out: &mut String) {
    if is_plain(text) {
        out.push_str(text);
    } else if is_block(text) {
        out.push_str(if text.ends_with('\n') { "|" } else { "|-" });
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(indent, out);
                out.push_str(line);
            }
        }
    } else {
        quoted(text, out);
    }
}

/// A JSON string is a YAML double-quoted scalar.
fn quoted(text: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(text).expect("a string serializes"));
}

fn pad(indent: usize, out: &mut String) {
    const SPACES: &str = "                                                                ";
    let mut left = indent;
    while left > 0 {
        let step = left.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        left -= step;
    }
}

/// Text a reader takes back as this same string when written bare.
fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    // Flow indicators are plain inside a block scalar, and berth writes no flow collections.
    let safe = |b: u8| b.is_ascii_alphanumeric() || b" _./:=+@,-$()~{}[]".contains(&b);
    let dash_word =
        first == '-' && text[1..].starts_with(|c: char| c == '-' || c.is_ascii_alphabetic());
    let dot_path = first == '.'
        && !text[1..].starts_with(|c: char| c.is_ascii_digit())
        && ![".inf", ".nan"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word));
    (first.is_ascii_alphanumeric() || "_/$".contains(first) || dash_word || dot_path)
        && text.bytes().all(safe)
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !is_keyword(text)
        && !looks_numeric(text)
}

/// Words some YAML reader takes for null or a boolean.
fn is_keyword(text: &str) -> bool {
    ["null", "true", "false", "yes", "no", "on", "off", "y", "n"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
}

/// Anything a reader might take for a number: integers, floats, hex, octal,
/// YAML 1.1's sexagesimal `1:20`.
fn looks_numeric(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "_.:xXoO".contains(c))
}

/// Several lines that a literal block keeps exactly.
fn is_block(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && !text.ends_with("\n\n")
        && text
            .chars()
            .all(|c| c == '\n' || (!c.is_control() && c != '\u{feff}'))
        && text.split('\n').all(|line| !line.ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;
    use serde_json::json;

    #[test]
    fn what_is_written_reads_back_the_same() {
        let tricky = [
            "",
            " lead",
            "trail ",
            ".",
            "..",
            ".5",
            ".inf",
            "-",
            "-1",
            "--flag",
            "-x",
            "~",
            "null",
            "No",
            "ON",
            "1_000",
            "1e3",
            "0o17",
            "12:30",
            "a: b",
            "a:b",
            "a #b",
            "#",
            "&a",
            "*a",
            "!tag",
            "|",
            ">",
            "%x",
            "@x",
            "`x`",
            "'q'",
            "\"q\"",
            "{a}",
            "[a]",
            "x{a}",
            "$${X}",
            "a\nb",
            "a\nb\n",
            "a\n\n",
            " a\nb",
            "a \nb",
            "tab\there",
            "x\r\ny",
            "é",
            "- x",
        ];
        for text in tricky {
            let value = json!({ "k": text, text: [text, { text: text }] });
            let written = to_yaml(&value);
            let read = crate::yaml::parse(&SourceFile::new("t.yaml", written.as_str()))
                .unwrap_or_else(|e| panic!("{text:?} wrote unreadable YAML:\n{written}\n{e:?}"))
                .to_json();
            assert_eq!(read, value, "{text:?} as\n{written}");
        }
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_plain_ones_are_not() {
        let value = json!({
            "a": "500m", "b": "2", "c": "yes", "d": "1:20", "e": "", "f": "- x",
            "g": "key: value", "h": "v1.2.3", "i": "0x1F", "j": "1Gi", "k": "#no",
            "l": "a\tb", "app.kubernetes.io/name": "web", "m": "10.0.4.20"
        });
        assert_eq!(
            to_yaml(&value),
            "a: 500m\nb: \"2\"\nc: \"yes\"\nd: \"1:20\"\ne: \"\"\nf: \"- x\"\ng: \"key: value\"\nh: v1.2.3\ni: \"0x1F\"\nj: 1Gi\nk: \"#no\"\nl: \"a\\tb\"\napp.kubernetes.io/name: web\nm: \"10.0.4.20\"\n"
        );
    }

    #[test]
    fn nesting_lists_and_blocks_read_as_kubectl_writes_them() {
        let value = json!({
            "spec": { "containers": [{ "name": "api", "args": ["--port", "8080"] }], "empty": {} },
            "run": "set -e\necho hi\n",
            "items": [[1, 2], { "k": null }]
        });
        assert_eq!(
            to_yaml(&value),
            "spec:\n  containers:\n  - name: api\n    args:\n    - --port\n    - \"8080\"\n  empty: {}\nrun: |\n  set -e\n  echo hi\nitems:\n-\n  - 1\n  - 2\n- k: null\n"
        );
    }
}
