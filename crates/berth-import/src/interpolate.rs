//! Compose's variables: `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:+other}`, `${VAR:?error}`, `$$` for a dollar sign — filled in from the
//! project's `.env`, as compose fills them. The shell of whoever runs the import
//! is not read: what it holds is not the project's, and may be a secret.

use indexmap::IndexMap;

/// The variables of the project's `.env`.
#[derive(Default)]
pub struct Variables(IndexMap<String, String>);

/// A scalar as written and with its variables filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Interpolated {
    pub raw: String,
    pub text: String,
    /// Variables the text names that `.env` does not set and that have no
    /// default: compose would take them from its shell.
    pub unresolved: Vec<String>,
}

impl Interpolated {
    /// The variable that the whole text is, written without a default.
    pub fn whole_variable(&self) -> Option<&str> {
        let raw = self.raw.trim();
        let name = raw
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .or_else(|| raw.strip_prefix('$'))?;
        is_name(name).then_some(name)
    }
}

impl Variables {
    /// The `KEY=VALUE` lines of a `.env` file: comments, `export`, quotes and
    /// earlier variables as compose reads them.
    pub fn from_dotenv(text: &str) -> Variables {
        let mut variables = Variables::default();
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if !is_name(key) {
                continue;
            }
            let value = value.trim();
            let value = match value.chars().next() {
                Some(quote @ ('"' | '\'')) => match value[1..].find(quote) {
                    Some(end) if quote == '\'' => value[1..=end].to_owned(),
                    Some(end) => variables.interpolate(&value[1..=end]).text,
                    None => value.to_owned(),
                },
                _ => {
                    let value = value.split(" #").next().unwrap_or_default().trim();
                    variables.interpolate(value).text
                }
            };
            variables.0.insert(key.to_owned(), value);
        }
        variables
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn interpolate(&self, raw: &str) -> Interpolated {
        let mut unresolved = Vec::new();
        let text = self.fill(raw, &mut unresolved);
        Interpolated {
            raw: raw.to_owned(),
            text,
            unresolved,
        }
    }

    fn fill(&self, raw: &str, unresolved: &mut Vec<String>) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('{')
                && let Some(end) = closing_brace(inner)
            {
                out.push_str(&self.braced(&inner[..end], unresolved));
                rest = &inner[end + 1..];
            } else {
                let length = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let name = &after[..length];
                if is_name(name) {
                    out.push_str(&self.value_of(name, unresolved));
                } else {
                    out.push('$');
                    out.push_str(name);
                }
                rest = &after[length..];
            }
        }
        out.push_str(rest);
        out
    }

    /// `NAME`, `NAME:-default`, `NAME-default`, `NAME:+other`, `NAME:?error`.
    fn braced(&self, inner: &str, unresolved: &mut Vec<String>) -> String {
        let length = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (name, operator) = inner.split_at(length);
        let value = self.get(name);
        let (empty_counts, op, word) = match operator.strip_prefix(':') {
            Some(rest) => (true, rest.chars().next(), rest.get(1..).unwrap_or("")),
            None => (
                false,
                operator.chars().next(),
                operator.get(1..).unwrap_or(""),
            ),
        };
        let set = value.is_some_and(|v| !(empty_counts && v.is_empty()));
        match op {
            Some('-') if !set => self.fill(word, unresolved),
            Some('+') if set => self.fill(word, unresolved),
            Some('+') => String::new(),
            _ => self.value_of(name, unresolved),
        }
    }

    fn value_of(&self, name: &str, unresolved: &mut Vec<String>) -> String {
        match self.get(name) {
            Some(value) => value.to_owned(),
            None => {
                if !unresolved.iter().any(|n| n == name) {
                    unresolved.push(name.to_owned());
                }
                String::new()
            }
        }
    }
}

/// Where the `}` that closes a `${` is, nested ones skipped.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> Variables {
        Variables::from_dotenv(
            "# settings\nAPP_TAG=2.7\nexport PORT=8080\nEMPTY=\nQUOTED=\"a # b\"\nLITERAL='$x'\nURL=http://h:${PORT}/ # the api\n",
        )
    }

    fn text(raw: &str) -> (String, Vec<String>) {
        let filled = variables().interpolate(raw);
        (filled.text, filled.unresolved)
    }

    #[test]
    fn dotenv_values_win_over_defaults() {
        assert_eq!(text("app:${APP_TAG:-1.0}").0, "app:2.7");
        assert_eq!(text("${MISSING:-1.0}").0, "1.0");
        assert_eq!(text("${EMPTY:-x}|${EMPTY-x}").0, "x|");
        assert_eq!(text("${PORT:+set}${MISSING:+set}").0, "set");
        assert_eq!(text("${MISSING:-${PORT}}").0, "8080");
    }

    #[test]
    fn dotenv_reads_quotes_comments_and_earlier_variables() {
        let variables = variables();
        assert_eq!(variables.get("QUOTED"), Some("a # b"));
        assert_eq!(variables.get("LITERAL"), Some("$x"));
        assert_eq!(variables.get("URL"), Some("http://h:8080/"));
    }

    #[test]
    fn unset_variables_are_named_and_dollars_kept() {
        assert_eq!(
            text("/srv/$USER/data"),
            ("/srv//data".to_owned(), vec!["USER".to_owned()])
        );
        assert_eq!(text("cost $$5 and $ alone").0, "cost $5 and $ alone");
        let whole = variables().interpolate("${API_KEY}");
        assert_eq!(whole.whole_variable(), Some("API_KEY"));
        assert_eq!(variables().interpolate("${A:-b}").whole_variable(), None);
    }
}
