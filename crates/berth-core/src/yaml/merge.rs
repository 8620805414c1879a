//! Environment overlays, merged node by node so that every value keeps the span of
//! the place it was written — the base file or the environment that overrode it.

use std::sync::Arc;

use super::{Node, Value};

/// Merges `overlay` onto `base`: mappings merge key by key, a `null` removes the key,
/// anything else replaces what the base had.
pub fn merge(base: &mut Node, overlay: &Node) {
    let (Value::Map(overlay_map), Value::Map(_)) = (&*overlay.value, &*base.value) else {
        *base = overlay.clone();
        return;
    };
    // Copies the base's mapping only now, and only this level of it, if it is shared.
    let Value::Map(base_map) = Arc::make_mut(&mut base.value) else {
        unreachable!("checked to be a mapping above")
    };
    for (key, entry) in overlay_map {
        if entry.value.is_null() {
            base_map.shift_remove(key);
            continue;
        }
        match base_map.get_mut(key) {
            Some(existing) => merge(&mut existing.value, &entry.value),
            None => {
                base_map.insert(key.clone(), entry.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    #[test]
    fn maps_merge_scalars_replace_and_null_removes() {
        let text = "base: { replicas: 1, env: { A: a, B: b }, routes: [x] }\n\
                    over: { replicas: 5, env: { B: c, C: d }, routes: [y], description: ~ }\n";
        let file = SourceFile::new("t.yaml", text);
        let root = crate::yaml::parse(&file).unwrap();
        let mut base = root.get("base").unwrap().clone();
        merge(&mut base, root.get("over").unwrap());
        let value = |path: &[&str]| base.at(path).and_then(|n| n.as_str()).map(str::to_owned);
        assert_eq!(value(&["replicas"]).as_deref(), Some("5"));
        assert_eq!(value(&["env", "A"]).as_deref(), Some("a"));
        assert_eq!(value(&["env", "B"]).as_deref(), Some("c"));
        assert_eq!(value(&["env", "C"]).as_deref(), Some("d"));
        assert!(base.get("description").is_none());
        let replicas = base.get("replicas").unwrap().span;
        assert_eq!(
            file.line_column(replicas.start).line,
            2,
            "overridden values point at the overlay"
        );
    }
}
