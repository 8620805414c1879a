//! The JSON Schema of berth.yaml, generated from the model so that it cannot drift.

use crate::model::BerthFile;

/// The schema as pretty-printed JSON, for editors (`# yaml-language-server: $schema=…`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<BerthFile>();
    serde_json::to_value(schema).expect("a schema is JSON")
}
