//! Environment values with references to other services, such as
//! `${mongo.url}/srvthreds`, resolved by each runtime to its own addresses.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// What part of a service's address a reference asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The connection URL (`postgres://…`, `redis://…`, `http://…`).
    Url,
    Host,
    /// The service's first (main) port.
    Port,
    /// A named port, `${svc.port.NAME}`.
    NamedPort(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Url => f.write_str("url"),
            Field::Host => f.write_str("host"),
            Field::Port => f.write_str("port"),
            Field::NamedPort(name) => write!(f, "port.{name}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub service: String,
    pub field: Field,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref(Reference),
}

/// A string that may hold `${service.field}` references; `$${` writes a literal `${`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    pub fn literal(text: impl Into<String>) -> Self {
        let text = text.into();
        Template {
            parts: vec![Part::Text(text.clone())],
            source: text,
        }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.references().next().is_none()
    }

    /// The value with every reference replaced by what `lookup` says it is.
    pub fn resolve(&self, mut lookup: impl FnMut(&Reference) -> String) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Ref(reference) => lookup(reference),
            })
            .collect()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Template {
    type Err = String;

    fn from_str(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$${") {
                text.push_str("${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| {
                    format!("`{source}` opens a reference with `${{` that is never closed\n help: close it with `}}`, or write `$${{` for a literal `${{`")
                })?;
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Ref(parse_reference(&after[..end])?));
                rest = &after[end + 1..];
            } else {
                text.push('$');
                rest = &rest[1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }
}

fn parse_reference(inner: &str) -> Result<Reference, String> {
    let help =
        "references are ${service.url}, ${service.host}, ${service.port} or ${service.port.NAME}";
    let mut pieces = inner.trim().splitn(2, '.');
    let service = pieces.next().unwrap_or_default();
    let Some(field) = pieces.next() else {
        return Err(format!(
            "`${{{inner}}}` does not say which address field it wants\n help: {help}; secrets go under `secrets:`, and `$${{` writes a literal `${{`"
        ));
    };
    let field = match field {
        "url" => Field::Url,
        "host" => Field::Host,
        "port" => Field::Port,
        other => match other.strip_prefix("port.") {
            Some(name) if !name.is_empty() => Field::NamedPort(name.to_owned()),
            _ => {
                return Err(format!(
                    "`{other}` in `${{{inner}}}` is not an address field\n help: {help}"
                ));
            }
        },
    };
    Ok(Reference {
        service: service.to_owned(),
        field,
    })
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A value; `${service.url}`, `${service.host}`, `${service.port}` and `${service.port.NAME}` refer to other services.",
            "type": ["string", "number", "boolean"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_between_text() {
        let t: Template = "${mongo.url}/srvthreds?x=${redis.port.main}"
            .parse()
            .unwrap();
        let refs: Vec<_> = t.references().cloned().collect();
        assert_eq!(
            refs[0],
            Reference {
                service: "mongo".into(),
                field: Field::Url
            }
        );
        assert_eq!(refs[1].field, Field::NamedPort("main".into()));
        let resolved = t.resolve(|r| format!("<{}>", r.service));
        assert_eq!(resolved, "<mongo>/srvthreds?x=<redis>");
    }

    #[test]
    fn dollars_escape_and_pass_through() {
        let t: Template = "cost $5, literal $${HOME}".parse().unwrap();
        assert!(t.is_literal());
        assert_eq!(t.resolve(|_| unreachable!()), "cost $5, literal ${HOME}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(
            "${mongo"
                .parse::<Template>()
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            "${HOME}"
                .parse::<Template>()
                .unwrap_err()
                .contains("which address field")
        );
        assert!(
            "${mongo.uri}"
                .parse::<Template>()
                .unwrap_err()
                .contains("not an address field")
        );
    }
}
