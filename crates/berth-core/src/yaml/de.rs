//! A serde `Deserializer` over the node tree whose errors carry the span of the
//! node they are about.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Error as _, IntoDeserializer, Visitor,
    value::BorrowedStrDeserializer,
};

use super::{Entry, Node, Resolved, Value};
use crate::problem::{Problem, quoted_list, suggestion};
use crate::source::Span;

/// A deserialization error, located at the innermost node it concerns.
#[derive(Debug, Clone)]
pub struct DeError {
    pub message: String,
    pub help: Option<String>,
    pub span: Option<Span>,
}

impl DeError {
    fn or_at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    pub fn into_problem(self, fallback: Span) -> Problem {
        let problem = Problem::new(self.message).at(self.span.unwrap_or(fallback), "here");
        match self.help {
            Some(help) => problem.help(help),
            None => problem,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let text = msg.to_string();
        // Model types phrase their own errors as "message; help" so that the help
        // line survives serde's plain-string error channel.
        let (message, help) = match text.split_once("\n help: ") {
            Some((m, h)) => (m.to_owned(), Some(h.to_owned())),
            None => (text, None),
        };
        DeError {
            message,
            help,
            span: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format!("expected {exp}, found {}", describe(unexp)))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format!("invalid value {}: expected {exp}", describe(unexp)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let help = suggestion(field, expected.iter().copied(), || {
            format!(
                "the keys allowed here are {}",
                quoted_list(expected.iter().copied())
            )
        });
        DeError {
            message: format!("unknown key `{field}`"),
            help: Some(help),
            span: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = suggestion(variant, expected.iter().copied(), || {
            format!("use one of {}", quoted_list(expected.iter().copied()))
        });
        DeError {
            message: format!("unknown value `{variant}`"),
            help: Some(help),
            span: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            message: format!("missing key `{field}`"),
            help: Some(format!("add `{field}:` here")),
            span: None,
        }
    }
}

fn describe(unexp: de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Unit | de::Unexpected::Option => "nothing (null)".to_owned(),
        de::Unexpected::Str(s) => format!("string \"{s}\""),
        de::Unexpected::Signed(i) => format!("integer `{i}`"),
        de::Unexpected::Unsigned(u) => format!("integer `{u}`"),
        de::Unexpected::Float(f) => format!("number `{f}`"),
        de::Unexpected::Bool(b) => format!("boolean `{b}`"),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

/// Deserializes a node into `T`; the error, if any, points into the node.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer(node)).map_err(|e| e.or_at(node.span))
}

struct NodeDeserializer<'a>(&'a Node);

impl<'a> NodeDeserializer<'a> {
    /// Scalars locate their own errors; a collection leaves it to its parent, which
    /// points at the key that holds it.
    fn locate<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        match *self.0.value {
            Value::Scalar { .. } => result.map_err(|e| e.or_at(self.0.span)),
            _ => result,
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &*self.0.value {
            Value::Scalar { .. } => match self.0.resolve().expect("scalar") {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_borrowed_str(s),
            },
            Value::Seq(items) => visitor.visit_seq(SeqAccess(items.iter())),
            Value::Map(map) => visitor.visit_map(MapAccess {
                entries: map.iter(),
                pending: None,
            }),
        };
        self.locate(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // `version: 15` and `DEBUG: true` are strings where a string is wanted.
        match &*self.0.value {
            Value::Scalar { text, .. } if !self.0.is_null() => {
                self.locate(visitor.visit_borrowed_str(text))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match &*self.0.value {
            Value::Scalar { text, .. } if !self.0.is_null() => {
                visitor.visit_enum(BorrowedStrDeserializer::new(text))
            }
            Value::Map(map) if map.len() == 1 => {
                let (key, entry) = map.first().expect("one entry");
                visitor.visit_enum(EnumAccess { key, entry })
            }
            _ => Err(DeError::custom(format!(
                "expected a name or a mapping with one key, found {}",
                self.0.describe()
            ))
            .or_at(self.0.span)),
        };
        self.locate(result)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf deserialize_seq
        deserialize_map
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }
}

struct SeqAccess<'a>(std::slice::Iter<'a, Node>);

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(node) => seed
                .deserialize(NodeDeserializer(node))
                .map(Some)
                .map_err(|e| e.or_at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess<'a> {
    entries: indexmap::map::Iter<'a, String, Entry>,
    pending: Option<&'a Entry>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, entry)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some(entry);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
            .map_err(|e: DeError| e.or_at(entry.key_span))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let entry = self.pending.take().expect("value follows key");
        // A scalar's own span says exactly what is wrong; a collection is pointed at
        // by its key rather than by a label over the whole block.
        let span = match *entry.value.value {
            Value::Scalar { .. } => entry.value.span,
            _ => entry.key_span,
        };
        seed.deserialize(NodeDeserializer(&entry.value))
            .map_err(|e: DeError| e.or_at(span))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumAccess<'a> {
    key: &'a str,
    entry: &'a Entry,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = DeError;
    type Variant = VariantAccess<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let variant = seed
            .deserialize(self.key.into_deserializer())
            .map_err(|e: DeError| e.or_at(self.entry.key_span))?;
        Ok((variant, VariantAccess(self.entry)))
    }
}

struct VariantAccess<'a>(&'a Entry);

impl<'de> VariantAccess<'de> {
    fn value<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|e| e.or_at(self.0.key_span))
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        if self.0.value.is_null() {
            Ok(())
        } else {
            Err(DeError::custom("this value takes no settings").or_at(self.0.value.span))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        self.value(seed.deserialize(NodeDeserializer(&self.0.value)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.value(de::Deserializer::deserialize_seq(
            NodeDeserializer(&self.0.value),
            visitor,
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.value(de::Deserializer::deserialize_map(
            NodeDeserializer(&self.0.value),
            visitor,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Svc {
        image: Option<String>,
        replicas: Option<u32>,
        version: Option<String>,
    }

    fn check(text: &str) -> (Result<Svc, DeError>, SourceFile) {
        let file = SourceFile::new("t.yaml", text);
        let node = crate::yaml::parse(&file).unwrap();
        (from_node(&node), file)
    }

    fn location(file: &SourceFile, e: &DeError) -> (usize, usize) {
        let at = file.line_column(e.span.unwrap().start);
        (at.line, at.column)
    }

    #[test]
    fn unknown_keys_point_at_the_key_and_suggest_the_right_one() {
        let (result, file) = check("image: x\nreplcias: 2\n");
        let e = result.unwrap_err();
        assert_eq!(e.message, "unknown key `replcias`");
        assert_eq!(e.help.as_deref(), Some("did you mean `replicas`?"));
        assert_eq!(location(&file, &e), (2, 1));
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let (result, file) = check("image: x\nreplicas: many\n");
        let e = result.unwrap_err();
        assert_eq!(e.message, "expected u32, found string \"many\"");
        assert_eq!(location(&file, &e), (2, 11));
    }

    #[test]
    fn numbers_are_strings_where_strings_are_wanted() {
        let (result, _) = check("version: 15\n");
        assert_eq!(result.unwrap().version.as_deref(), Some("15"));
    }
}
