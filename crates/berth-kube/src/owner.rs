//! What marks an object as berth's: the labels that name the ecosystem, the
//! environment, the service and the revision it was applied at. berth lists,
//! prunes and deletes only objects that carry the first three, so nothing of
//! anyone else's in a shared namespace is ever touched.

use serde_json::{Map, Value};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const SERVICE: &str = "app.kubernetes.io/name";
pub const ENVIRONMENT: &str = "berth.dev/environment";
pub const REVISION: &str = "berth.dev/revision";

/// The ecosystem and environment whose objects these are.
#[derive(Clone, Debug)]
pub struct Owner {
    pub ecosystem: String,
    pub environment: String,
}

impl Owner {
    /// The label selector of every object berth made for this environment.
    pub fn selector(&self) -> String {
        format!(
            "{MANAGED_BY}=berth,{PART_OF}={},{ENVIRONMENT}={}",
            self.ecosystem, self.environment
        )
    }

    /// Labels `object` as this environment's, at `revision`; so are a
    /// workload's pod template, so that its pods say which revision they run,
    /// and its claim templates (without the revision), so that `down --volumes`
    /// finds their claims.
    pub fn stamp(&self, object: &mut Value, revision: Option<&str>) {
        let mut labels = vec![
            (MANAGED_BY, "berth"),
            (PART_OF, self.ecosystem.as_str()),
            (ENVIRONMENT, self.environment.as_str()),
        ];
        labels.extend(revision.map(|revision| (REVISION, revision)));
        insert_labels(object.pointer_mut("/metadata"), &labels);
        insert_labels(object.pointer_mut("/spec/template/metadata"), &labels);
        insert_labels(object.pointer_mut("/spec/jobTemplate/metadata"), &labels);
        // A StatefulSet's claim templates cannot change once it exists: they
        // carry whose they are, never a revision.
        if let Some(Value::Array(claims)) = object.pointer_mut("/spec/volumeClaimTemplates") {
            for claim in claims {
                insert_labels(claim.get_mut("metadata"), &labels[..3]);
            }
        }
    }
}

fn insert_labels(metadata: Option<&mut Value>, labels: &[(&str, &str)]) {
    let Some(Value::Object(metadata)) = metadata else {
        return;
    };
    let entry = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(map) = entry {
        for (key, value) in labels {
            map.insert((*key).to_owned(), Value::String((*value).to_owned()));
        }
    }
}

/// Whether `live` carries the labels that make it berth's for the ecosystem and
/// environment `object` is stamped for.
pub fn owner_labels_match(object: &Value, live: &Value) -> bool {
    let wanted = object.pointer("/metadata/labels");
    let found = live.pointer("/metadata/labels");
    [MANAGED_BY, PART_OF, ENVIRONMENT].iter().all(|key| {
        let want = wanted.and_then(|w| w.get(*key)).and_then(Value::as_str);
        want.is_some() && found.and_then(|f| f.get(*key)).and_then(Value::as_str) == want
    })
}

/// The service an object belongs to, by its name label.
pub fn service_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/labels")?.get(SERVICE)?.as_str()
}

/// `Kind/namespace/name`, as a person reads one object.
pub fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(namespace) => format!("{kind}/{namespace}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamps_the_object_and_its_pod_template_but_not_the_selector() {
        let owner = Owner {
            ecosystem: "shop".into(),
            environment: "prod".into(),
        };
        let mut deployment = json!({
            "kind": "Deployment",
            "metadata": { "name": "api", "labels": { "app.kubernetes.io/name": "api" } },
            "spec": { "selector": { "matchLabels": { "app.kubernetes.io/name": "api" } },
                      "template": { "metadata": { "labels": { "app.kubernetes.io/name": "api" } } } }
        });
        owner.stamp(&mut deployment, Some("0123abcd4567"));
        assert_eq!(deployment["metadata"]["labels"][ENVIRONMENT], "prod");
        assert_eq!(deployment["metadata"]["labels"][REVISION], "0123abcd4567");
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["labels"][REVISION],
            "0123abcd4567"
        );
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"],
            json!({ "app.kubernetes.io/name": "api" })
        );
        assert_eq!(service_of(&deployment), Some("api"));
        let mut set = json!({
            "kind": "StatefulSet",
            "metadata": { "name": "db" },
            "spec": { "template": { "metadata": {} },
                      "volumeClaimTemplates": [{ "metadata": { "name": "data" } }] }
        });
        owner.stamp(&mut set, Some("0123abcd4567"));
        let claim = &set["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"];
        assert_eq!(claim[ENVIRONMENT], "prod");
        assert!(
            claim.get(REVISION).is_none(),
            "claim templates are immutable: {claim}"
        );
        assert_eq!(
            owner.selector(),
            "app.kubernetes.io/managed-by=berth,app.kubernetes.io/part-of=shop,berth.dev/environment=prod"
        );
    }
}
