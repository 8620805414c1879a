//! Server-side apply with field manager `berth`: the server merges, defaults
//! and validates, and records which fields berth owns. berth is the source of
//! truth for what it renders, so conflicts with another manager are forced, as
//! Helm 4 does; fields berth does not set stay whoever's they are.

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::kinds::Kinds;
use crate::owner::describe;

pub const FIELD_MANAGER: &str = "berth";

/// Applies `object`; with `dry_run`, the server only says what it would become.
pub async fn apply(kinds: &Kinds, object: &Value, dry_run: bool) -> Result<DynamicObject, String> {
    let api = kinds.api_for(object).await?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{} has no name", describe(object)))?;
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| format!("applying {}: {}", describe(object), said(&e)))
}

/// The API server's own message, without the client's wrapping; for an error
/// short of the server, the whole chain of causes (a refused connection, a
/// certificate not trusted), which the outermost alone does not say.
pub fn said(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => {
            let mut text = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(inner) = cause {
                let more = inner.to_string();
                if !text.contains(&more) {
                    text += &format!(": {more}");
                }
                cause = inner.source();
            }
            text
        }
    }
}
