//! `berth deploy --dry-run` on a cluster: each object as the server would make
//! it (a server-side dry run, so defaults and admission are the server's own)
//! against the live one, as a unified diff of their YAML with the fields the
//! server keeps for itself left out.

use berth_core::yaml::to_yaml;
use kube::api::DynamicObject;
use serde_json::Value;
use similar::TextDiff;

use crate::apply::{apply, forbidden};
use crate::kinds::Kinds;
use crate::owner::describe;

/// What applying `object` would change: `None` when nothing.
pub async fn diff(kinds: &Kinds, object: &Value) -> Result<Option<String>, String> {
    // A namespace the user may not change is one whose rights a RoleBinding in
    // it gives: a deploy uses it as it is, so it has no change to show.
    let theirs = |e: &str| object["kind"] == "Namespace" && forbidden(e);
    let live = match kinds.live(object).await {
        Err(e) if theirs(&e) => return Ok(None),
        live => live?,
    };
    let after = match apply(kinds, object, true).await {
        Ok(after) => comparable(&after),
        Err(e) if theirs(&e) => return Ok(None),
        // A new namespace's objects cannot be dry-run before it exists: show them as written.
        Err(_) if live.is_none() => object.clone(),
        // Nor can a changed Job, whose template cannot change: it is deleted
        // and made anew, so it is shown as made.
        Err(e) if object["kind"] == "Job" && e.contains("immutable") => {
            let title = format!("{} (deleted and made anew)", describe(object));
            return Ok(unified(&title, None, object));
        }
        Err(e) => return Err(e),
    };
    let before = live.as_ref().map(comparable);
    Ok(unified(&describe(object), before.as_ref(), &after))
}

fn unified(title: &str, before: Option<&Value>, after: &Value) -> Option<String> {
    let old = before.map(to_yaml).unwrap_or_default();
    let new = to_yaml(after);
    if old == new {
        return None;
    }
    let text = TextDiff::from_lines(&old, &new);
    let live = if before.is_some() {
        format!("live/{title}")
    } else {
        "/dev/null".to_owned()
    };
    Some(
        text.unified_diff()
            .context_radius(3)
            .header(&live, &format!("berth/{title}"))
            .to_string(),
    )
}

/// The object without what the server keeps for itself.
fn comparable(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            metadata.remove(field);
        }
    }
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_image_is_one_changed_line_and_a_new_object_is_all_added() {
        let before = json!({ "kind": "Deployment", "spec": { "image": "api:1", "replicas": 2 } });
        let after = json!({ "kind": "Deployment", "spec": { "image": "api:2", "replicas": 2 } });
        let changed = unified("Deployment/shop/api", Some(&before), &after).unwrap();
        assert!(
            changed.starts_with("--- live/Deployment/shop/api\n+++ berth/Deployment/shop/api\n"),
            "{changed}"
        );
        assert!(
            changed.contains("-  image: api:1\n+  image: api:2\n"),
            "{changed}"
        );
        assert!(unified("x", Some(&before), &before).is_none());
        let added = unified("ConfigMap/shop/api", None, &after).unwrap();
        assert!(added.starts_with("--- /dev/null\n"));
        assert!(
            added.lines().filter(|l| l.starts_with('+')).count() >= 4,
            "{added}"
        );
    }
}
