//! Deleting berth's objects, and waiting until the server has taken them away,
//! as `kubectl delete` does. A workload is deleted in the foreground — its
//! pods go before it does — so that once it is gone nothing of it runs; a claim
//! stays until no pod mounts it. Waiting is on a watch begun at the version
//! the delete returned.

use std::time::Duration;

use futures_util::TryStreamExt;
use futures_util::future::join_all;
use kube::api::{Api, DeleteParams, DynamicObject};
use serde_json::Value;

use crate::environment::Environment;
use crate::owner::{describe, owner_labels_match};
use crate::wait::{WorkloadKind, object_events};

/// How long a delete waits for what it deleted to be gone: pods to stop within
/// their grace period, claims to be let go.
const GONE_WITHIN: Duration = Duration::from_secs(120);

/// An object whose delete the server accepted but has not finished: it has
/// finalizers, or dependents that go first.
struct Going {
    described: String,
    api: Api<DynamicObject>,
    name: String,
    version: Option<String>,
}

/// Deletes `objects` and waits until they are gone; one already gone is no
/// failure. An object the cluster has that is not berth's — one of the same
/// name that someone else made — is left alone.
pub async fn delete(environment: &Environment, objects: &[Value]) -> Result<(), String> {
    let going = start_deleting(environment, objects).await?;
    let left = until_gone(&going, GONE_WITHIN).await;
    if left.is_empty() {
        return Ok(());
    }
    Err(format!(
        "deleted, but still being taken away after {}s: {}; their events may say why",
        GONE_WITHIN.as_secs(),
        left.join(", ")
    ))
}

/// Asks for each delete; those still being taken away, or every failure.
async fn start_deleting(
    environment: &Environment,
    objects: &[Value],
) -> Result<Vec<Going>, String> {
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
        let kind = object["kind"].as_str().unwrap_or_default();
        let params = if WorkloadKind::of(kind).is_some() {
            DeleteParams::foreground()
        } else {
            DeleteParams::background()
        };
        match api.delete(name, &params).await {
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

/// Waits at most `deadline` for every object of `going` to be gone; those
/// still there then.
async fn until_gone(going: &[Going], deadline: Duration) -> Vec<String> {
    let _ = tokio::time::timeout(deadline, join_all(going.iter().map(Going::gone))).await;
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
