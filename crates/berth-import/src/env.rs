//! `environment:` as berth's `env` and `secrets`. Variables are filled in from
//! `.env` as compose fills them; a value that is one variable compose takes
//! from its shell — or a secret, wherever it comes from — becomes a secret
//! reference to that variable, so that it is never written down. An address
//! of another service, such as `db:5432`, becomes `${db.host}:${db.port}`,
//! which every runtime resolves to its own address.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::{Value, json};

use berth_core::check::looks_secret;

use crate::document::{Field, Shape};
use crate::interpolate::Variables;
use crate::merge::to_map;
use crate::note::Notes;

/// Each compose service's berth name and its container ports with berth's names
/// for them, first one first.
pub type Peers = IndexMap<String, (String, Vec<(String, u16)>)>;

#[derive(Default)]
pub struct Environment {
    pub env: IndexMap<String, String>,
    pub secrets: IndexMap<String, Value>,
}

pub fn environment(
    definition: Option<&Field>,
    peers: &Peers,
    variables: &Variables,
    notes: &mut Notes,
) -> Environment {
    let mut out = Environment::default();
    let Some(definition) = definition else {
        return out;
    };
    for (key, value) in to_map(definition).entries() {
        let scalar = match &value.shape {
            Shape::Scalar(scalar) => scalar,
            // Passed through from compose's environment, of which `.env` is part.
            _ => match variables.get(&key) {
                Some(value) if !looks_secret(&key) => {
                    out.env.insert(key.clone(), literal(value, peers));
                    continue;
                }
                _ => {
                    out.secrets.insert(key.clone(), json!({ "env": key }));
                    continue;
                }
            },
        };
        if let Some(variable) = scalar.whole_variable()
            && (scalar.unresolved.iter().any(|v| v == variable) || looks_secret(&key))
        {
            out.secrets.insert(key, json!({ "env": variable }));
            continue;
        }
        if let Some(variable) = scalar.unresolved.first() {
            notes.add(&value.at, format!("`{key}`: `{variable}` is set neither in `.env` nor by a default; compose reads it from its shell, berth writes the value without it"));
        }
        if looks_secret(&key) && !scalar.text.is_empty() {
            notes.add(&value.at, format!("`{key}` holds its value inline: berth check flags it; move it under `secrets:` as a reference"));
        }
        out.env.insert(key, literal(&scalar.text, peers));
    }
    out
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

    #[test]
    fn addresses_of_other_services_become_references() {
        assert_eq!(
            literal(
                "postgres://u@db_main:5432/app?exporter=db_main:9187&other=web:80",
                &peers()
            ),
            "postgres://u@${db-main.host}:${db-main.port}/app?exporter=${db-main.host}:${db-main.port.port-9187}&other=web:80"
        );
    }

    #[test]
    fn a_literal_dollar_brace_is_escaped() {
        assert_eq!(literal("a-${X}-b $Y", &peers()), "a-$${X}-b $Y");
    }
}
