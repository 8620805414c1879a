//! `berth down` on a cluster: deletes what berth made for the environment —
//! found by its labels — workloads first, so that nothing restarts what is
//! being taken away. Claims, and so the data stores' data, stay unless asked
//! for (`--volumes`); the namespace and the history stay, as `berth down` keeps
//! the history of a local environment.

use serde_json::Value;

use crate::deletion::delete;
use crate::environment::Environment;
use crate::owner::describe;
use crate::prune::owned;

/// Deletes the environment's objects in `namespaces` and waits until they are
/// gone, as `kubectl delete` does; what it deleted.
pub async fn down(
    environment: &Environment,
    namespaces: &[String],
    volumes: bool,
) -> Result<Vec<String>, String> {
    let mut objects: Vec<Value> = owned(environment, namespaces)
        .await?
        .into_iter()
        .filter(|object| volumes || object["kind"] != "PersistentVolumeClaim")
        .collect();
    objects.sort_by_key(|object| order(object["kind"].as_str().unwrap_or_default()));
    delete(environment, &objects).await?;
    Ok(objects.iter().map(describe).collect())
}

/// Workloads and what scales them first; claims last, once nothing mounts them.
fn order(kind: &str) -> u8 {
    match kind {
        "HorizontalPodAutoscaler" | "CronJob" => 0,
        "Deployment" | "StatefulSet" | "Job" => 1,
        "PersistentVolumeClaim" => 3,
        _ => 2,
    }
}
