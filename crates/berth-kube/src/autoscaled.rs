//! A Deployment that a HorizontalPodAutoscaler scales keeps the replicas it
//! has: berth.yaml's `replicas` makes it, and after that the autoscaler's count
//! stands, so that a deployment does not scale a busy service back down until
//! the autoscaler acts again (what `kubectl apply` and Helm do to it).

use serde_json::json;

use crate::kinds::Kinds;
use crate::object_set::ObjectSet;

/// Each autoscaled Deployment of `objects` given the replicas its live one has.
pub async fn keep_live_replicas(kinds: &Kinds, objects: &mut ObjectSet) -> Result<(), String> {
    for service in objects.services.values_mut() {
        let scaled: Vec<String> = service
            .iter()
            .filter(|o| o["kind"] == "HorizontalPodAutoscaler")
            .filter(|o| o["spec"]["scaleTargetRef"]["kind"] == "Deployment")
            .filter_map(|o| {
                o["spec"]["scaleTargetRef"]["name"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        for deployment in service
            .iter_mut()
            .filter(|o| o["kind"] == "Deployment")
            .filter(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| scaled.iter().any(|s| s == n))
            })
        {
            if let Some(live) = kinds.live(deployment).await? {
                let replicas = serde_json::to_value(&live)
                    .ok()
                    .and_then(|v| v["spec"]["replicas"].as_u64());
                if let Some(replicas) = replicas {
                    deployment["spec"]["replicas"] = json!(replicas);
                }
            }
        }
    }
    Ok(())
}
