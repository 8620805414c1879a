//! `depends_on`: which services must be in which state before a service starts.

use std::fmt;

use indexmap::IndexMap;
use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The state a dependency must reach before the dependent starts.
#[derive(Clone, Debug)]
pub enum Condition {
    /// The dependency's process (or container, or pod) has started.
    Started,
    /// Its readiness probe has passed.
    Healthy,
    /// It is a job and has exited successfully.
    Completed,
    /// A line of its output matches this regular expression.
    LogLine(Regex),
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Started => f.write_str("started"),
            Condition::Healthy => f.write_str("healthy"),
            Condition::Completed => f.write_str("completed"),
            Condition::LogLine(re) => write!(f, "log /{}/", re.as_str()),
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;
        impl<'de> Visitor<'de> for ConditionVisitor {
            type Value = Condition;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("started, healthy, completed or { log: REGEX }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Condition, E> {
                match v {
                    "started" => Ok(Condition::Started),
                    "healthy" => Ok(Condition::Healthy),
                    "completed" => Ok(Condition::Completed),
                    other => Err(E::unknown_variant(
                        other,
                        &["started", "healthy", "completed"],
                    )),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Condition, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct LogCondition {
                    log: String,
                }
                let spec = LogCondition::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Regex::new(&spec.log).map(Condition::LogLine).map_err(|e| {
                    de::Error::custom(format!(
                        "`{}` is not a valid regular expression: {}\n help: fix the pattern; escape special characters with a backslash",
                        spec.log,
                        e.to_string().lines().last().unwrap_or_default().trim()
                    ))
                })
            }
        }
        deserializer.deserialize_any(ConditionVisitor)
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {"enum": ["started", "healthy", "completed"]},
                {"type": "object", "properties": {"log": {"type": "string"}}, "required": ["log"], "additionalProperties": false}
            ]
        })
    }
}

/// Dependencies by service name; a plain list means `started` for each, as in compose.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct DependsOn(pub IndexMap<String, Condition>);

impl DependsOn {
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Condition)> {
        self.0.iter()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependsVisitor;
        impl<'de> Visitor<'de> for DependsVisitor {
            type Value = DependsOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of services or a mapping of service to condition")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<DependsOn, A::Error> {
                let mut map = IndexMap::new();
                while let Some(name) = seq.next_element::<String>()? {
                    map.insert(name, Condition::Started);
                }
                Ok(DependsOn(map))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<DependsOn, A::Error> {
                IndexMap::deserialize(de::value::MapAccessDeserializer::new(map)).map(DependsOn)
            }
        }
        deserializer.deserialize_any(DependsVisitor)
    }
}

impl JsonSchema for DependsOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DependsOn".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let condition = generator.subschema_for::<Condition>();
        json_schema!({
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": condition}
            ]
        })
    }
}
