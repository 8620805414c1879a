//! berth's own objects in the cluster that the deployment no longer has: found
//! by their labels (never anyone else's), listed, and deleted only when asked
//! (`--prune`), as `kubectl apply --prune` with a label selector would.

use kube::api::ListParams;
use serde_json::Value;

use crate::deletion::delete;
use crate::deploy::Prepared;
use crate::environment::Environment;
use crate::owner::describe;

/// The kinds berth renders, listed when looking for what it left.
pub const KINDS: [(&str, &str); 15] = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "Ingress"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
];

/// Every object of this environment's in `namespaces`, of berth's kinds.
pub async fn owned(environment: &Environment, namespaces: &[String]) -> Result<Vec<Value>, String> {
    let mut found = Vec::new();
    let params = ListParams::default().labels(&environment.owner.selector());
    for (api_version, kind) in KINDS {
        for namespace in namespaces {
            let probe = serde_json::json!({
                "apiVersion": api_version, "kind": kind, "metadata": { "namespace": namespace }
            });
            let Ok(api) = environment.kinds.api_for(&probe).await else {
                continue;
            };
            let list = match api.list(&params).await {
                Ok(list) => list,
                // A kind the user may not list is one berth could not have made for them.
                Err(kube::Error::Api(status)) if status.code == 403 => continue,
                Err(e) => {
                    return Err(format!(
                        "listing {kind} in {namespace}: {}",
                        crate::apply::said(&e)
                    ));
                }
            };
            for item in list.items {
                let mut value = serde_json::to_value(&item).unwrap_or(Value::Null);
                value["apiVersion"] = api_version.into();
                value["kind"] = kind.into();
                found.push(value);
            }
        }
    }
    Ok(found)
}

/// berth's objects in the cluster that this deployment does not have: those
/// the last good deployment applied or left there that this one does not, and
/// that are still there. Found from the history, without listing every kind.
pub async fn leftover(
    environment: &Environment,
    prepared: &Prepared,
) -> Result<Vec<Value>, String> {
    let keep = prepared.objects.names();
    let mut left = Vec::new();
    for object in prepared.last_applied.iter().chain(&prepared.last_left) {
        // Claims a StatefulSet made from its templates belong to its data, not to a deployment.
        if object["kind"] == "PersistentVolumeClaim" || keep.contains(&describe(object)) {
            continue;
        }
        // A kind the server no longer serves holds nothing to prune.
        if environment.kinds.api_for(object).await.is_err() {
            continue;
        }
        let live = environment.kinds.live(object).await?;
        if live.is_some() {
            left.push(object.clone());
        }
    }
    Ok(left)
}

/// Says what is left over, and deletes it when `prune`.
pub async fn report(
    environment: &Environment,
    leftover: &[Value],
    prune: bool,
    say: &dyn Fn(String),
) {
    if leftover.is_empty() {
        return;
    }
    let names: Vec<String> = leftover.iter().map(describe).collect();
    if !prune {
        say(format!(
            "no longer in berth.yaml, left in the cluster: {}; `berth deploy --prune` deletes them",
            names.join(", ")
        ));
        return;
    }
    say(format!("pruning: {}", names.join(", ")));
    if let Err(e) = delete(environment, leftover).await.map(drop) {
        say(e);
    }
}
