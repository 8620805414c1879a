//! `berth down` on a cluster: deletes what berth made for the environment —
//! found by its labels — workloads first, so that nothing restarts what is
//! being taken away. Claims, and so the data stores' data, stay unless asked
//! for (`--volumes`); the namespace and the history stay, as `berth down` keeps
//! the history of a local environment. It returns once the pods have stopped
//! and the claims are let go, or says what is still going after a while.

use std::time::Duration;

use serde_json::Value;

use crate::deletion::{delete, pods, until_gone};
use crate::environment::Environment;
use crate::owner::describe;
use crate::prune::owned;

/// How long `down` waits for pods to stop — Kubernetes' default grace period
/// is 30 s — and for claims to be let go once they have.
const GONE_WITHIN: Duration = Duration::from_secs(45);

/// What `down` did.
pub struct Down {
    pub deleted: Vec<String>,
    /// Deleted, but not yet gone when `down` stopped waiting.
    pub going: Vec<String>,
}

/// Deletes the environment's objects in `namespaces`, and waits for their
/// pods and claims to be gone; `show` hears what it waits for.
pub async fn down(
    environment: &Environment,
    namespaces: &[String],
    volumes: bool,
    show: &(dyn Fn(&str) + Sync),
) -> Result<Down, String> {
    let mut objects: Vec<Value> = owned(environment, namespaces)
        .await?
        .into_iter()
        .filter(|object| volumes || object["kind"] != "PersistentVolumeClaim")
        .collect();
    objects.sort_by_key(|object| order(object["kind"].as_str().unwrap_or_default()));
    let mut going = delete(environment, &objects).await?;
    going.extend(pods(environment, namespaces).await?);
    if !going.is_empty() {
        show(&format!(
            "deleted; waiting for {} pods and claims to go…",
            going.len()
        ));
    }
    Ok(Down {
        deleted: objects.iter().map(describe).collect(),
        going: until_gone(&going, GONE_WITHIN).await,
    })
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
