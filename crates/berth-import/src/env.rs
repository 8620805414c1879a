//! `environment:` as berth's `env` and `secrets`. Compose fills `${VAR}` from
//! the shell at `up`; berth says the same with a secret reference to that
//! variable, so a value read from the environment is never written down. An
//! address of another service, such as `db:5432`, becomes `${db.host}:${db.port}`,
//! which every runtime resolves to its own address.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::{Value, json};

use crate::document::Field;
use crate::note::Notes;

/// Each compose service's berth name and its container ports with berth's names
/// for them, first one first.
pub type Peers = IndexMap<String, (String, Vec<(String, u16)>)>;

#[derive(Default)]
pub struct Environment {
    pub env: IndexMap<String, String>,
    pub secrets: IndexMap<String, Value>,
}

pub fn environment(definitions: &[Field], peers: &Peers, notes: &mut Notes) -> Environment {
    // A later file's value replaces an earlier one's before anything is said of it.
    let mut variables = IndexMap::new();
    for definition in definitions {
        for (key, value, at) in read(definition) {
            variables.shift_remove(&key);
            variables.insert(key, (value, at));
        }
    }
    let mut out = Environment::default();
    for (key, (value, at)) in variables {
        let Some(value) = value else {
            // Passed through from the shell that runs compose.
            out.secrets.insert(key.clone(), json!({ "env": key }));
            continue;
        };
        match translate(&value, peers) {
            Translated::FromShell(variable) => {
                out.secrets.insert(key, json!({ "env": variable }));
            }
            Translated::Text { text, lost } => {
                if let Some(lost) = lost {
                    notes.add(at, format!("`{key}`: {lost}"));
                }
                if looks_secret(&key) && !text.contains("${") {
                    notes.add(at, format!("`{key}` holds its value inline: berth check flags it; move it under `secrets:` as a reference"));
                }
                out.env.insert(key, text);
            }
        }
    }
    out
}

/// The variables of a mapping or a `KEY=VALUE` list; a value of `None` is taken
/// from the shell.
fn read<'a>(definition: &Field<'a>) -> Vec<(String, Option<String>, crate::note::At<'a>)> {
    if definition.is_map() {
        return definition
            .entries()
            .into_iter()
            .map(|(key, field)| (key, field.text(), field.at))
            .collect();
    }
    definition
        .items()
        .into_iter()
        .filter_map(|item| {
            let text = item.text()?;
            Some(match text.split_once('=') {
                Some((key, value)) => (key.to_owned(), Some(value.to_owned()), item.at),
                None => (text, None, item.at),
            })
        })
        .collect()
}

fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "MASTER_KEY",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|word| key.contains(word))
}

enum Translated {
    /// The whole value is one variable of the shell, without a default.
    FromShell(String),
    /// berth text, and what of the compose value it could not keep.
    Text { text: String, lost: Option<String> },
}

static INTERPOLATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)",
    )
    .expect("a valid pattern")
});

fn translate(value: &str, peers: &Peers) -> Translated {
    if let Some(found) = INTERPOLATION.captures(value)
        && found.get(0).is_some_and(|m| m.as_str() == value)
        && found.get(2).is_none()
        && let Some(variable) = found.get(1).or(found.get(4))
    {
        return Translated::FromShell(variable.as_str().to_owned());
    }
    let mut text = String::new();
    let mut lost = None;
    let mut rest = 0;
    for found in INTERPOLATION.captures_iter(value) {
        let whole = found.get(0).expect("a match");
        text.push_str(&literal(&value[rest..whole.start()], peers));
        rest = whole.end();
        if whole.as_str() == "$$" {
            text.push('$');
            continue;
        }
        let variable = found.get(1).or(found.get(4)).map_or("", |m| m.as_str());
        match (found.get(2).map(|m| m.as_str()), found.get(3)) {
            (Some(":-" | "-"), Some(default)) => {
                text.push_str(&literal(default.as_str(), peers));
                lost = Some(format!(
                    "`{}` written as its default: berth reads `{variable}` from the shell only as a whole value without a default (under `secrets:`)",
                    whole.as_str()
                ));
            }
            _ => {
                text.push_str("$${");
                text.push_str(&whole.as_str()[2..]);
                lost = Some(format!(
                    "`{}` kept as literal text: berth reads a variable from the shell only as a whole value (under `secrets:`)",
                    whole.as_str()
                ));
            }
        }
    }
    text.push_str(&literal(&value[rest..], peers));
    Translated::Text { text, lost }
}

/// `text` with each `${VAR:-default}` as its default, and the first variable
/// without a default, which stays as written.
pub fn with_defaults(text: &str) -> (String, Option<String>) {
    let mut unresolved = None;
    let replaced = INTERPOLATION.replace_all(text, |found: &regex::Captures| {
        match (found.get(2).map(|m| m.as_str()), found.get(3)) {
            (Some(":-" | "-"), Some(default)) => default.as_str().to_owned(),
            _ if &found[0] == "$$" => "$".to_owned(),
            _ => {
                unresolved.get_or_insert_with(|| found[0].to_owned());
                found[0].to_owned()
            }
        }
    });
    (replaced.into_owned(), unresolved)
}

static HOST_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z0-9_.-]+):([0-9]{1,5})").expect("a valid pattern"));

/// Text with `${` escaped and other services' `host:port` made references.
fn literal(text: &str, peers: &Peers) -> String {
    let escaped = text.replace("${", "$${");
    HOST_PORT
        .replace_all(&escaped, |found: &regex::Captures| {
            let (host, port) = (&found[1], &found[2]);
            let reference = peers.get(host).and_then(|(name, ports)| {
                let index = ports.iter().position(|(_, p)| p.to_string() == port)?;
                Some(match index {
                    0 => format!("${{{name}.host}}:${{{name}.port}}"),
                    _ => format!("${{{name}.host}}:${{{name}.port.{}}}", ports[index].0),
                })
            });
            reference.unwrap_or_else(|| found[0].to_owned())
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> Peers {
        IndexMap::from([(
            "db_main".to_owned(),
            (
                "db-main".to_owned(),
                vec![
                    ("postgres".to_owned(), 5432),
                    ("port-9187".to_owned(), 9187),
                ],
            ),
        )])
    }

    fn text(value: &str) -> (String, bool) {
        match translate(value, &peers()) {
            Translated::Text { text, lost } => (text, lost.is_some()),
            Translated::FromShell(variable) => (format!("<shell {variable}>"), false),
        }
    }

    #[test]
    fn a_whole_variable_is_read_from_the_shell() {
        assert_eq!(text("${API_KEY}").0, "<shell API_KEY>");
        assert_eq!(text("$API_KEY").0, "<shell API_KEY>");
    }

    #[test]
    fn defaults_stand_in_and_the_rest_stays_literal() {
        assert_eq!(text("${LEVEL:-info}"), ("info".to_owned(), true));
        assert_eq!(text("a-${X}-b"), ("a-$${X}-b".to_owned(), true));
        assert_eq!(text("cost $$5"), ("cost $5".to_owned(), false));
    }

    #[test]
    fn addresses_of_other_services_become_references() {
        assert_eq!(
            text("postgres://u@db_main:5432/app?exporter=db_main:9187&other=web:80").0,
            "postgres://u@${db-main.host}:${db-main.port}/app?exporter=${db-main.host}:${db-main.port.port-9187}&other=web:80"
        );
    }
}
