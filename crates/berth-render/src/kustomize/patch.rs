//! The JSON patch (RFC 6902) that turns one object into another: maps compared
//! key by key, lists of the same length item by item, anything else replaced
//! whole — so that no operation depends on one before it shifting a list.

use serde_json::{Value, json};

/// The operations that turn `from` into `to`; none when they are equal.
pub fn diff(from: &Value, to: &Value) -> Vec<Value> {
    let mut operations = Vec::new();
    walk(from, to, &mut String::new(), &mut operations);
    operations
}

fn walk(from: &Value, to: &Value, path: &mut String, operations: &mut Vec<Value>) {
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => {
            // Objects rendered by the same code list their keys in the same
            // order: look at the same place first, and hash only when it differs.
            let mut in_step = to.iter();
            for (key, old) in from {
                let new = match in_step.next() {
                    Some((other, new)) if other == key => Some(new),
                    _ => to.get(key),
                };
                within(path, key, |path| match new {
                    Some(new) => walk(old, new, path, operations),
                    None => operations.push(json!({ "op": "remove", "path": path })),
                });
            }
            for (key, new) in to.iter().filter(|(key, _)| !from.contains_key(*key)) {
                within(path, key, |path| {
                    operations.push(json!({ "op": "add", "path": path, "value": new }));
                });
            }
        }
        (Value::Array(from), Value::Array(to)) if from.len() == to.len() => {
            for (index, (old, new)) in from.iter().zip(to).enumerate() {
                within(path, &index.to_string(), |path| {
                    walk(old, new, path, operations);
                });
            }
        }
        _ if from != to => {
            operations.push(json!({ "op": "replace", "path": path, "value": to }));
        }
        _ => {}
    }
}

/// Runs `f` with `path` extended by one reference token, escaped as RFC 6901 asks.
fn within(path: &mut String, token: &str, f: impl FnOnce(&mut String)) {
    let length = path.len();
    path.push('/');
    path.push_str(&token.replace('~', "~0").replace('/', "~1"));
    f(path);
    path.truncate(length);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_objects_need_no_operation() {
        let object = json!({ "a": [1, { "b": 2 }] });
        assert!(diff(&object, &object).is_empty());
    }

    #[test]
    fn keys_are_escaped_and_lists_of_another_length_replaced_whole() {
        let from = json!({ "labels": { "app.kubernetes.io/name": "a", "gone": 1 }, "ports": [1], "n": [1, 2] });
        let to = json!({ "labels": { "app.kubernetes.io/name": "b", "new~": true }, "ports": [1, 2], "n": [1, 3] });
        assert_eq!(
            diff(&from, &to),
            vec![
                json!({ "op": "replace", "path": "/labels/app.kubernetes.io~1name", "value": "b" }),
                json!({ "op": "remove", "path": "/labels/gone" }),
                json!({ "op": "add", "path": "/labels/new~0", "value": true }),
                json!({ "op": "replace", "path": "/ports", "value": [1, 2] }),
                json!({ "op": "replace", "path": "/n/1", "value": 3 }),
            ]
        );
    }
}
