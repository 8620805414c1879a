//! Server-side apply with field manager `berth`: the server merges, defaults
//! and validates, and records which fields berth owns. An apply that conflicts
//! with another manager's fields is forced only onto an object that is
//! berth's own, for this ecosystem and environment (berth is the source of
//! truth for what it renders, as Helm 4 forces); an object of the same name
//! that is someone else's is refused, never taken over.

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::kinds::Kinds;
use crate::owner::{describe, owner_labels_match};

pub const FIELD_MANAGER: &str = "berth";

/// Applies `object`; with `dry_run`, the server only says what it would become.
pub async fn apply(kinds: &Kinds, object: &Value, dry_run: bool) -> Result<DynamicObject, String> {
    let api = kinds.api_for(object).await?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{} has no name", describe(object)))?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.dry_run = dry_run;
    let failed = |e: kube::Error| format!("applying {}: {}", describe(object), said(&e));
    match api.patch(name, &params, &Patch::Apply(object)).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let live = kinds.live(object).await?;
            let live = live.and_then(|live| serde_json::to_value(&live).ok());
            if !live.is_some_and(|live| owner_labels_match(object, &live)) {
                return Err(format!(
                    "{} exists and is not berth's (it lacks the labels berth gives its own); berth leaves it alone — rename the service or move the object away",
                    describe(object)
                ));
            }
            api.patch(name, &params.force(), &Patch::Apply(object))
                .await
                .map_err(failed)
        }
        result => result.map_err(failed),
    }
}

/// Whether `message`, as [`said`] gives it, is the API server's refusal for
/// want of rights (a 403, "… is forbidden: User … cannot …").
pub fn forbidden(message: &str) -> bool {
    message.contains(" is forbidden: ")
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
