//! Settings berth.yaml writes either as a path (`/ready`, `/api`, `/metrics`) or
//! as a mapping that says more: one reader and one schema for all of them.

use std::fmt;

use schemars::{Schema, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// What berth.yaml writes as a path, or as a mapping (`Spec`) that says more.
pub(super) fn path_or_map<'de, D, T, Spec>(
    deserializer: D,
    expecting: &'static str,
    from_path: impl Fn(&str) -> Result<T, String>,
    from_map: impl Fn(Spec) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    Spec: Deserialize<'de>,
{
    struct PathOrMap<F, G, Spec> {
        expecting: &'static str,
        from_path: F,
        from_map: G,
        spec: std::marker::PhantomData<Spec>,
    }
    impl<'de, T, Spec, F, G> Visitor<'de> for PathOrMap<F, G, Spec>
    where
        F: Fn(&str) -> Result<T, String>,
        G: Fn(Spec) -> Result<T, String>,
        Spec: Deserialize<'de>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.from_path)(v).map_err(E::custom)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let spec = Spec::deserialize(de::value::MapAccessDeserializer::new(map))?;
            (self.from_map)(spec).map_err(de::Error::custom)
        }
    }
    deserializer.deserialize_any(PathOrMap {
        expecting,
        from_path,
        from_map,
        spec: std::marker::PhantomData,
    })
}

/// The schema of a path (`/…`) or of the mapping that says more.
pub(super) fn path_or_schema(spec: Schema) -> Schema {
    json_schema!({"anyOf": [{"type": "string", "pattern": "^/"}, spec]})
}
