//! One service defined in several places — a later `-f` file, or a service it
//! `extends` — merged as the Compose specification says: mappings key by key,
//! `environment`, `labels`, `depends_on` and build `args` as mappings whatever
//! form each side is written in, `ports` and `expose` each value once, `volumes`
//! and `secrets` by their target, `command`, `entrypoint` and a healthcheck's
//! `test` replaced whole, other lists appended; `!reset` removes what came
//! before, `!override` replaces it.

use indexmap::IndexMap;

use crate::document::{Field, Shape};

/// `over` merged onto `base`, the service key `key` (a path such as
/// `healthcheck.test`) deciding how.
pub fn merge(base: &Field, over: &Field, key: &str) -> Field {
    if over.tag.as_deref() == Some("!override") || replaced(key) {
        return over.clone();
    }
    if as_mapping(key) {
        return merge_maps(&to_map(base), &to_map(over), key);
    }
    if key == "build" {
        return merge_maps(&build_map(base), &build_map(over), key);
    }
    match (&base.shape, &over.shape) {
        (Shape::Map(_), Shape::Map(_)) => merge_maps(base, over, key),
        (Shape::Seq(before), Shape::Seq(after)) => {
            let mut items = before.clone();
            for item in after {
                match identity(key, item) {
                    Some(id) => {
                        items.retain(|i| identity(key, i).as_ref() != Some(&id));
                        items.push(item.clone());
                    }
                    None => items.push(item.clone()),
                }
            }
            Field {
                shape: Shape::Seq(items),
                ..over.clone()
            }
        }
        _ => over.clone(),
    }
}

fn merge_maps(base: &Field, over: &Field, key: &str) -> Field {
    let mut entries = base.entries();
    for (name, value) in over.entries() {
        if value.tag.as_deref() == Some("!reset") {
            entries.shift_remove(&name);
            continue;
        }
        let merged = match entries.get(&name) {
            Some(before) => {
                let path = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                merge(before, &value, &path)
            }
            None => value,
        };
        entries.insert(name, merged);
    }
    Field {
        shape: Shape::Map(entries),
        ..over.clone()
    }
}

fn replaced(key: &str) -> bool {
    matches!(
        key,
        "command" | "entrypoint" | "healthcheck.test" | "build.context" | "image"
    )
}

fn as_mapping(key: &str) -> bool {
    matches!(
        key,
        "environment"
            | "labels"
            | "annotations"
            | "depends_on"
            | "build.args"
            | "build.labels"
            | "extra_hosts"
            | "sysctls"
    )
}

/// What makes two list items the same item: `ports`, `expose`, `env_file`
/// and such by their value, volumes and secrets by where they are mounted.
fn identity(key: &str, item: &Field) -> Option<String> {
    match key {
        "volumes" | "devices" | "secrets" | "configs" | "tmpfs" => Some(mount_target(item)),
        "ports" | "expose" | "env_file" | "dns" | "dns_search" | "cap_add" | "cap_drop"
        | "profiles" | "networks" | "links" | "external_links" | "security_opt" => {
            item.text().or_else(|| Some(format!("{:?}", flat(item))))
        }
        _ => None,
    }
}

fn mount_target(item: &Field) -> String {
    if let Some(target) = item.get("target").and_then(Field::text) {
        return target;
    }
    let text = item
        .text()
        .or_else(|| item.get("source").and_then(Field::text))
        .unwrap_or_default();
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [target] | [_, target] | [_, target, _] => (*target).to_owned(),
        _ => text,
    }
}

/// A list of `KEY=VALUE` (or names, for `depends_on`) as the mapping it means.
pub fn to_map(field: &Field) -> Field {
    if field.is_map() || !matches!(field.shape, Shape::Seq(_)) {
        return field.clone();
    }
    let mut entries = IndexMap::new();
    for item in field.items() {
        let Some(scalar) = item.scalar() else {
            continue;
        };
        let (key, value) = match scalar.text.split_once('=') {
            Some((key, value)) => {
                let mut scalar = scalar.clone();
                scalar.text = value.to_owned();
                scalar.raw = scalar
                    .raw
                    .split_once('=')
                    .map_or(String::new(), |(_, raw)| raw.to_owned());
                (key.to_owned(), Shape::Scalar(scalar))
            }
            None => (scalar.text.clone(), Shape::Null),
        };
        entries.insert(key, Field::new(item.at.clone(), value));
    }
    Field {
        shape: Shape::Map(entries),
        ..field.clone()
    }
}

/// `build: ./dir` as the mapping `{ context: ./dir }`.
pub fn build_map(field: &Field) -> Field {
    match &field.shape {
        Shape::Scalar(_) => Field {
            shape: Shape::Map(IndexMap::from([("context".to_owned(), field.clone())])),
            ..field.clone()
        },
        _ => field.clone(),
    }
}

fn flat(field: &Field) -> Vec<(String, Option<String>)> {
    field
        .entries()
        .into_iter()
        .map(|(key, value)| (key, value.text()))
        .collect()
}
