//! Deleting berth's objects, and waiting until the server has taken away what
//! does not go at once: a claim, let go once no pod mounts it, and the pods of
//! deleted workloads, which their nodes stop within the grace period. Objects
//! are deleted in the background, as `kubectl delete` does, so that a
//! workload is gone at once even where its pods are slow to stop. Waiting is
//! on a watch begun at the version the server gave.

use std::time::Duration;

use futures_util::TryStreamExt;
use futures_util::future::join_all;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use serde_json::{Value, json};

use crate::environment::Environment;
use crate::owner::{describe, owner_labels_match};
use crate::wait::object_events;

/// An object the server has not finished taking away.
pub struct Going {
    described: String,
    api: Api<DynamicObject>,
    name: String,
    version: Option<String>,
}

/// Deletes `objects`; one already gone is no failure. An object the cluster
/// has that is not berth's — one of the same name that someone else made — is
/// left alone. Those still being taken away (finalizers left), or every
/// failure to delete.
pub async fn delete(environment: &Environment, objects: &[Value]) -> Result<Vec<Going>, String> {
    let mut going = Vec::new();
    let mut failed = Vec::new();
    for object in objects {
        let Ok(api) = environment.kinds.api_for(object).await else {
            continue;
        };
        if !berths(environment, object).await {
            continue;
        }
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match api.delete(name, &DeleteParams::background()).await {
            Ok(either) => {
                // The server answers with the object either way; one deleted at
                // once carries the deletion's version, after which nothing comes,
                // and only one with finalizers left is still there.
                if let Some(live) = either.left().filter(|live| {
                    live.metadata
                        .finalizers
                        .as_ref()
                        .is_some_and(|f| !f.is_empty())
                }) {
                    going.push(Going {
                        described: describe(object),
                        api,
                        name: name.to_owned(),
                        version: live.metadata.resource_version,
                    });
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => failed.push(format!("{}: {}", describe(object), crate::apply::said(&e))),
        }
    }
    if failed.is_empty() {
        Ok(going)
    } else {
        Err(format!("could not delete {}", failed.join("; ")))
    }
}

/// Whether the cluster's `object` is berth's: a listed object is the live
/// one; one from a render is looked up.
async fn berths(environment: &Environment, object: &Value) -> bool {
    if object.pointer("/metadata/uid").is_some() {
        return owner_labels_match(object, object);
    }
    match environment.kinds.live(object).await {
        Ok(Some(live)) => {
            serde_json::to_value(&live).is_ok_and(|live| owner_labels_match(object, &live))
        }
        _ => false,
    }
}

/// The environment's pods in `namespaces`, to be waited for once what owns
/// them is deleted.
pub async fn pods(environment: &Environment, namespaces: &[String]) -> Result<Vec<Going>, String> {
    let params = ListParams::default().labels(&environment.owner.selector());
    let mut going = Vec::new();
    for namespace in namespaces {
        let probe =
            json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "namespace": namespace } });
        let api = environment.kinds.api_for(&probe).await?;
        let list = api
            .list(&params)
            .await
            .map_err(|e| format!("listing pods in {namespace}: {}", crate::apply::said(&e)))?;
        for pod in list.items {
            let name = pod.metadata.name.clone().unwrap_or_default();
            going.push(Going {
                described: format!("Pod/{namespace}/{name}"),
                api: api.clone(),
                name,
                version: pod.metadata.resource_version,
            });
        }
    }
    Ok(going)
}

/// Waits at most `deadline` for every object of `going` to be gone; those
/// still there then.
pub async fn until_gone(going: &[Going], deadline: Duration) -> Vec<String> {
    let all = join_all(going.iter().map(Going::gone));
    if tokio::time::timeout(deadline, all).await.is_ok() {
        return Vec::new();
    }
    let mut left = Vec::new();
    for object in going {
        if !matches!(object.api.get_opt(&object.name).await, Ok(None)) {
            left.push(object.described.clone());
        }
    }
    left
}

impl Going {
    /// Returns once the watch sees the object deleted; a watch that fails is
    /// opened again, listing first.
    async fn gone(&self) {
        let mut version = self.version.clone();
        loop {
            let mut events = object_events(self.api.clone(), &self.name, version.as_deref());
            loop {
                match events.try_next().await {
                    Ok(Some(Some(_))) => {}
                    Ok(Some(None)) => return,
                    Ok(None) | Err(_) => break,
                }
            }
            version = None;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
