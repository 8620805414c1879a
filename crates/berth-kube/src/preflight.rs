//! Before anything is applied: what the objects reference but berth does not
//! make — Secrets and their keys, ConfigMaps, kinds a CRD must serve, storage
//! classes. Each missing thing is listed once with the objects that need it, so
//! a deploy stops with the whole list instead of pods waiting forever in
//! CreateContainerConfigError.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use crate::kinds::Kinds;
use crate::owner::describe;

/// Something the objects need that the cluster lacks, and who needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub what: String,
    pub needed_by: Vec<String>,
    pub help: String,
}

/// A reference found in an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reference {
    Secret {
        namespace: String,
        name: String,
        key: Option<String>,
    },
    ConfigMap {
        namespace: String,
        name: String,
    },
    StorageClass(String),
}

/// Everything `objects` need that the cluster does not have.
pub async fn missing(
    client: &Client,
    kinds: &Kinds,
    objects: &[Value],
) -> Result<Vec<Missing>, String> {
    let mut found = Vec::new();
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        if kinds.resource(api_version, kind).await?.is_none() {
            found.push(Missing {
                what: format!("kind {kind} ({api_version})"),
                needed_by: vec![describe(object)],
                help: "install the CRD that serves it (Gateway API, Istio, …), or turn off what renders it in berth.yaml".into(),
            });
        }
    }
    let made: BTreeSet<String> = objects.iter().map(describe).collect();
    let mut needs: BTreeMap<Reference, Vec<String>> = BTreeMap::new();
    for object in objects {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let mut references = Vec::new();
        references_in(object, namespace, &mut references);
        for reference in references {
            needs.entry(reference).or_default().push(describe(object));
        }
    }
    // A Secret is asked for once, with every key any object wants of it.
    let mut secrets: BTreeMap<(String, String), (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
    for (reference, needed_by) in needs {
        let mut needed_by = needed_by;
        needed_by.dedup();
        if let Reference::Secret {
            namespace,
            name,
            key,
        } = &reference
        {
            let entry = secrets
                .entry((namespace.clone(), name.clone()))
                .or_default();
            entry.0.extend(key.clone());
            for by in needed_by {
                if !entry.1.contains(&by) {
                    entry.1.push(by);
                }
            }
            continue;
        }
        if let Some((what, help)) = check(client, &reference, &made).await? {
            found.push(Missing {
                what,
                needed_by,
                help,
            });
        }
    }
    for ((namespace, name), (keys, needed_by)) in secrets {
        if made.contains(&format!("Secret/{namespace}/{name}")) {
            continue;
        }
        if let Some((what, help)) = check_secret(client, &namespace, &name, &keys).await? {
            found.push(Missing {
                what,
                needed_by,
                help,
            });
        }
    }
    Ok(found)
}

/// What is missing of the Secret `namespace/name`, which must hold `keys`.
async fn check_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    keys: &BTreeSet<String>,
) -> Result<Option<(String, String)>, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot ask the API server: {e}"))?;
    let Some(secret) = secret else {
        let literals: Vec<String> = if keys.is_empty() {
            vec!["--from-literal=KEY=VALUE".to_owned()]
        } else {
            keys.iter()
                .map(|key| format!("--from-literal={key}=…"))
                .collect()
        };
        return Ok(Some((
            format!("Secret {namespace}/{name}"),
            format!(
                "create it: `kubectl create secret generic {name} -n {namespace} {}`",
                literals.join(" ")
            ),
        )));
    };
    // Only the keys' names are read, never what they hold.
    let held: BTreeSet<&String> = secret
        .data
        .iter()
        .flat_map(|d| d.keys())
        .chain(secret.string_data.iter().flat_map(|d| d.keys()))
        .collect();
    let lacking: Vec<String> = keys
        .iter()
        .filter(|key| !held.contains(key))
        .map(|key| format!("`{key}`"))
        .collect();
    Ok((!lacking.is_empty()).then(|| {
        let one = lacking.len() == 1;
        (
            format!(
                "key{} {} of Secret {namespace}/{name}",
                if one { "" } else { "s" },
                lacking.join(", ")
            ),
            format!(
                "add {} to the Secret (`kubectl edit secret {name} -n {namespace}`)",
                if one { "it" } else { "them" }
            ),
        )
    }))
}

/// What is missing of `reference`, with the help to give; `None` when present.
async fn check(
    client: &Client,
    reference: &Reference,
    made: &BTreeSet<String>,
) -> Result<Option<(String, String)>, String> {
    let asked = |e: kube::Error| format!("cannot ask the API server: {e}");
    Ok(match reference {
        Reference::Secret { .. } => None,
        Reference::ConfigMap { namespace, name } => {
            if made.contains(&format!("ConfigMap/{namespace}/{name}")) {
                return Ok(None);
            }
            let map = Api::<ConfigMap>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(asked)?;
            map.is_none().then(|| {
                (
                    format!("ConfigMap {namespace}/{name}"),
                    format!(
                        "create it: `kubectl create configmap {name} -n {namespace} --from-file=…`"
                    ),
                )
            })
        }
        Reference::StorageClass(name) => {
            let class = match Api::<StorageClass>::all(client.clone()).get_opt(name).await {
                // Storage classes are the cluster's: a user whose rights are one
                // namespace's cannot see them, and the claim will say if it is missing.
                Err(kube::Error::Api(status)) if status.code == 403 => return Ok(None),
                class => class.map_err(asked)?,
            };
            class.is_none().then(|| {
                (
                    format!("StorageClass {name}"),
                    "name one the cluster has (`kubectl get storageclass`) in the store's `volume.class`".to_owned(),
                )
            })
        }
    })
}

/// The references anywhere in `value`, a part of an object in `namespace`.
/// References marked `optional: true` are not needed.
fn references_in(value: &Value, namespace: &str, out: &mut Vec<Reference>) {
    match value {
        Value::Object(map) => {
            let optional = map.get("optional").and_then(Value::as_bool) == Some(true);
            let name_of = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
            let secret = |name: String, key: Option<String>| Reference::Secret {
                namespace: namespace.to_owned(),
                name,
                key,
            };
            for (key, inner) in map {
                let inner_optional = inner.get("optional").and_then(Value::as_bool) == Some(true);
                let found = match key.as_str() {
                    _ if inner_optional || optional => None,
                    "secretKeyRef" => name_of(inner).map(|name| {
                        secret(
                            name,
                            inner.get("key").and_then(Value::as_str).map(str::to_owned),
                        )
                    }),
                    "secretRef" => name_of(inner).map(|name| secret(name, None)),
                    "secret" => inner
                        .get("secretName")
                        .and_then(Value::as_str)
                        .map(|name| secret(name.to_owned(), None)),
                    "configMapKeyRef" | "configMapRef" | "configMap" => {
                        name_of(inner).map(|name| Reference::ConfigMap {
                            namespace: namespace.to_owned(),
                            name,
                        })
                    }
                    "storageClassName" => inner
                        .as_str()
                        .filter(|name| !name.is_empty())
                        .map(|name| Reference::StorageClass(name.to_owned())),
                    "imagePullSecrets" => {
                        for pull in inner.as_array().into_iter().flatten() {
                            if let Some(name) = name_of(pull) {
                                out.push(secret(name, None));
                            }
                        }
                        None
                    }
                    _ => None,
                };
                out.extend(found);
                references_in(inner, namespace, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                references_in(item, namespace, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_secrets_config_maps_and_storage_classes_anywhere_in_a_pod() {
        let deployment = json!({
            "kind": "Deployment",
            "metadata": { "name": "api", "namespace": "shop" },
            "spec": { "template": { "spec": {
                "imagePullSecrets": [{ "name": "registry" }],
                "containers": [{
                    "env": [
                        { "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "shop-secrets", "key": "db-password" } } },
                        { "name": "TOKEN", "valueFrom": { "secretKeyRef": { "name": "maybe", "key": "t", "optional": true } } }
                    ],
                    "envFrom": [{ "configMapRef": { "name": "api" } }]
                }],
                "volumes": [{ "name": "tls", "secret": { "secretName": "api-tls" } }]
            } },
            "volumeClaimTemplates": [{ "spec": { "storageClassName": "fast" } }] }
        });
        let mut found = Vec::new();
        references_in(&deployment, "shop", &mut found);
        found.sort();
        let secret = |name: &str, key: Option<&str>| Reference::Secret {
            namespace: "shop".into(),
            name: name.into(),
            key: key.map(str::to_owned),
        };
        assert_eq!(
            found,
            vec![
                secret("api-tls", None),
                secret("registry", None),
                secret("shop-secrets", Some("db-password")),
                Reference::ConfigMap {
                    namespace: "shop".into(),
                    name: "api".into()
                },
                Reference::StorageClass("fast".into()),
            ]
        );
    }
}
