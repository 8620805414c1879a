//! Canary on a cluster without a mesh: replica-weighted. The new version runs
//! as a second Deployment, `SERVICE-canary`, whose pods the service's Service
//! selects as it selects the stable ones; each step of berth.yaml's weights
//! moves replicas from the stable Deployment to the canary, then pauses and
//! analyses. At 100 % the stable Deployment takes the new template by its own
//! rolling update and the canary goes. A failed step deletes the canary and
//! gives the stable Deployment its replicas back.

use berth_core::model::{Amount, Kind, Service, Strategy};
use berth_engine::Failure;
use berth_engine::analysis::{MetricProvider, Verdict, judge};
use berth_engine::deploy::{Action, ServiceChange};
use berth_engine::prometheus::PrometheusMetrics;
use berth_engine::strategy::{CANARY_STEPS, effective};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::apply::{apply, said};
use crate::deploy::{apply_service, await_service};
use crate::environment::Environment;
use crate::owner::{REVISION, SERVICE};
use crate::wait::{Workload, WorkloadKind, settle};

/// The label that tells the canary's pods from the stable ones.
pub const TRACK: &str = "berth.dev/track";

/// What a change does on a cluster, as the plan says it: Kubernetes' own
/// rollouts, not the steps berth takes for local processes.
/// `spec` is the service as berth.yaml has it; none for one it no longer has.
pub fn how(change: &ServiceChange, spec: Option<&Service>) -> String {
    let amount = |a: Option<Amount>, default: &str| a.map_or(default.to_owned(), |a| a.to_string());
    let left = "left in the cluster; `berth deploy --prune` deletes it";
    let Some(spec) = spec else {
        return left.to_owned();
    };
    match (change.action, spec.kind) {
        (Action::Remove, _) => left.to_owned(),
        (Action::Scale, _) => format!("scale to {}", change.replicas),
        (_, Kind::Job) => "run the Job (a changed one anew) to completion".to_owned(),
        (Action::Add, kind) if kind.is_data() => "apply the StatefulSet, await ready".to_owned(),
        (Action::Add, _) => "apply, await ready".to_owned(),
        (Action::Update, kind) if kind.is_data() => {
            "the StatefulSet's rolling update, highest ordinal first; await ready".to_owned()
        }
        (Action::Update, _) => match effective(spec.kind, &spec.rollout) {
            Strategy::Canary => {
                let steps = if spec.rollout.steps.is_empty() {
                    CANARY_STEPS.to_vec()
                } else {
                    spec.rollout.steps.clone()
                };
                let steps: Vec<String> = steps
                    .iter()
                    .filter(|w| **w < 100)
                    .map(|w| format!("{w}%"))
                    .collect();
                format!(
                    "canary {}-canary at {} of the replicas, analysed after each; then the Deployment's rolling update",
                    change.service,
                    steps.join(" → ")
                )
            }
            Strategy::BlueGreen => {
                "blue-green is the Deployment's rolling update on a cluster: berth does not switch Services yet".to_owned()
            }
            Strategy::Recreate => {
                "the Deployment's Recreate: old pods stop before new ones start".to_owned()
            }
            Strategy::Rolling => format!(
                "the Deployment's rolling update (max surge {}, max unavailable {}); await ready",
                amount(spec.rollout.max_surge, "25%"),
                amount(spec.rollout.max_unavailable, "25%")
            ),
        },
    }
}

pub fn is_canary(change: &ServiceChange, spec: &Service) -> bool {
    change.action == Action::Update
        && spec.kind == Kind::Service
        && effective(spec.kind, &spec.rollout) == Strategy::Canary
}

/// Canary replicas at `weight` percent of `replicas`: at least one, and the
/// stable set keeps at least one until the last step.
pub fn split(replicas: u32, weight: u32) -> (u32, u32) {
    let canary = (replicas * weight).div_ceil(100).clamp(1, replicas.max(1));
    let stable = replicas.saturating_sub(canary).max(1);
    (canary, stable)
}

/// The canary Deployment made of the new one: its own name, and a track label
/// in its selector so the two Deployments never claim each other's pods.
pub fn canary_of(deployment: &Value, replicas: u32) -> Value {
    let mut canary = deployment.clone();
    let name = format!(
        "{}-canary",
        deployment["metadata"]["name"].as_str().unwrap_or_default()
    );
    canary["metadata"]["name"] = json!(name);
    canary["spec"]["replicas"] = json!(replicas);
    canary["spec"]["selector"]["matchLabels"][TRACK] = json!("canary");
    canary["spec"]["template"]["metadata"]["labels"][TRACK] = json!("canary");
    canary
}

pub async fn canary(
    environment: &Environment,
    objects: &[Value],
    spec: &Service,
    change: &ServiceChange,
    say: &(dyn Fn(String) + Sync),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), Failure> {
    let service = change.service.as_str();
    let fail = |message: String| Failure::new(service, message);
    let Some(deployment) = objects.iter().find(|o| o["kind"] == "Deployment") else {
        return Err(fail(
            "a canary needs a Deployment, and the service renders none".into(),
        ));
    };
    let others: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] != "Deployment")
        .cloned()
        .collect();
    apply_service(environment, &others).await.map_err(fail)?;
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let stable_name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let deployments: Api<Deployment> =
        Api::namespaced(environment.cluster.client.clone(), namespace);
    let replicas = change.replicas;
    let steps = if spec.rollout.steps.is_empty() {
        CANARY_STEPS.to_vec()
    } else {
        spec.rollout.steps.clone()
    };
    let revision = deployment["metadata"]["labels"][REVISION]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let canary_workload = Workload {
        kind: WorkloadKind::Deployment,
        namespace: namespace.to_owned(),
        name: format!("{stable_name}-canary"),
        service: service.to_owned(),
        revision: revision.clone(),
        applied: None,
    };
    let outcome = async {
        for weight in steps.iter().copied().filter(|w| *w < 100) {
            let (canary, stable) = split(replicas, weight);
            let applied = apply(&environment.kinds, &canary_of(deployment, canary), false).await.map_err(fail)?;
            let canary_workload = Workload { applied: serde_json::to_value(&applied).ok(), ..canary_workload.clone() };
            scale(&deployments, stable_name, stable).await.map_err(fail)?;
            settle(&environment.cluster.client, &canary_workload, spec.rollout.progress_deadline(), progress).await?;
            say(format!(
                "weight {weight}%: {canary} canary and {stable} stable replicas behind one Service (replica-weighted; no mesh route)"
            ));
            if let Some(pause) = spec.rollout.pause {
                tokio::time::sleep(pause.0).await;
            }
            analyse(environment, spec, &canary_workload, say).await?;
        }
        Ok(())
    }
    .await;
    if let Err(failure) = outcome {
        say("deleting the canary and giving the stable set its replicas back".to_owned());
        let _ = deployments
            .delete(&canary_workload.name, &DeleteParams::background())
            .await;
        scale(&deployments, stable_name, replicas)
            .await
            .map_err(fail)?;
        return Err(failure);
    }
    say("promoting: the stable Deployment takes the new version".to_owned());
    apply(&environment.kinds, deployment, false)
        .await
        .map_err(fail)?;
    await_service(
        environment,
        &[Workload {
            name: stable_name.to_owned(),
            ..canary_workload.clone()
        }],
        spec,
        progress,
    )
    .await?;
    deployments
        .delete(&canary_workload.name, &DeleteParams::background())
        .await
        .map_err(|e| fail(format!("deleting the canary: {}", said(&e))))?;
    Ok(())
}

/// Sets a Deployment's replicas through its scale subresource, so that berth's
/// ownership of the rest of its fields stays as it is.
async fn scale(deployments: &Api<Deployment>, name: &str, replicas: u32) -> Result<(), String> {
    deployments
        .patch_scale(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": replicas } })),
        )
        .await
        .map(drop)
        .map_err(|e| format!("scaling {name} to {replicas}: {}", said(&e)))
}

/// A step's analysis: Prometheus' measurements of the new revision where the
/// environment names a server, else the canary's readiness and restarts, and
/// it says which it was.
async fn analyse(
    environment: &Environment,
    spec: &Service,
    canary: &Workload,
    say: &(dyn Fn(String) + Sync),
) -> Result<(), Failure> {
    let fail = |message: String| Failure::new(&canary.service, message);
    if let (Some(url), Some(analysis)) = (&environment.prometheus, &spec.rollout.analysis) {
        let metrics = PrometheusMetrics::new(url).map_err(fail)?;
        let revision = berth_core::revision::Revision(canary.revision.clone());
        let measurement = metrics
            .measure(&canary.service, &revision, analysis.interval())
            .await
            .map_err(fail)?;
        return match judge(analysis, &measurement) {
            Verdict::Pass => {
                say(format!(
                    "analysis passed ({} requests, from Prometheus)",
                    measurement.requests
                ));
                Ok(())
            }
            Verdict::Breach(breaches) => {
                Err(fail(format!("analysis failed: {}", breaches.join(", "))))
            }
            Verdict::Inconclusive(why) => Err(fail(format!("analysis inconclusive: {why}"))),
        };
    }
    let pods: Api<Pod> = Api::namespaced(environment.cluster.client.clone(), &canary.namespace);
    let selector = format!("{SERVICE}={},{TRACK}=canary", canary.service);
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| fail(format!("reading the canary's pods: {}", said(&e))))?;
    let restarts: i32 = list
        .items
        .iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    let unready = list
        .items
        .iter()
        .filter(|p| !crate::rollout::ready(p))
        .count();
    if restarts > 0 || unready > 0 {
        return Err(fail(format!(
            "analysis failed: the canary's pods restarted {restarts} times and {unready} are not ready"
        )));
    }
    say(format!(
        "analysis passed on readiness and restarts only: {} canary pods ready, none restarted (the environment names no Prometheus)",
        list.items.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_weights_keep_one_of_each_until_the_end() {
        assert_eq!(split(10, 10), (1, 9));
        assert_eq!(split(10, 50), (5, 5));
        assert_eq!(split(4, 10), (1, 3));
        assert_eq!(split(1, 10), (1, 1));
        assert_eq!(split(3, 90), (3, 1));
    }

    #[test]
    fn the_canary_deployment_has_its_own_name_and_selector() {
        let deployment = json!({
            "kind": "Deployment",
            "metadata": { "name": "api", "namespace": "shop" },
            "spec": { "replicas": 4,
                "selector": { "matchLabels": { "app.kubernetes.io/name": "api" } },
                "template": { "metadata": { "labels": { "app.kubernetes.io/name": "api" } } } }
        });
        let canary = canary_of(&deployment, 1);
        assert_eq!(canary["metadata"]["name"], "api-canary");
        assert_eq!(canary["spec"]["replicas"], 1);
        assert_eq!(
            canary["spec"]["selector"]["matchLabels"],
            json!({ "app.kubernetes.io/name": "api", "berth.dev/track": "canary" })
        );
        assert_eq!(
            canary["spec"]["template"]["metadata"]["labels"][TRACK],
            "canary"
        );
    }
}
