//! Canary on a cluster without a mesh: replica-weighted. The new version runs
//! as a second Deployment, `SERVICE-canary`, whose pods the service's Service
//! selects as it selects the stable ones; each step of berth.yaml's weights
//! moves replicas from the stable Deployment to the canary, then pauses and
//! analyses. At 100 % the stable Deployment takes the new template by its own
//! rolling update and the canary goes. A failed step deletes the canary and
//! gives the stable Deployment its replicas back.

use berth_core::model::Service;
use berth_engine::Failure;
use berth_engine::analysis::{MetricProvider, Verdict, judge};
use berth_engine::prometheus::PrometheusMetrics;
use berth_engine::strategy::CANARY_STEPS;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::apply::{apply, said};
use crate::environment::Environment;
use crate::owner::{REVISION, SERVICE};
use crate::service::await_service;
use crate::wait::{Workload, WorkloadKind, settle};

use super::{Context, TRACK, beside, go_on, pause};

/// Canary replicas at `weight` percent of `replicas`: at least one, and the
/// stable set keeps at least one until the last step.
pub fn split(replicas: u32, weight: u32) -> (u32, u32) {
    let canary = (replicas * weight).div_ceil(100).clamp(1, replicas.max(1));
    let stable = replicas.saturating_sub(canary).max(1);
    (canary, stable)
}

/// Runs the canary of `change`; its objects other than workloads are applied.
pub async fn run(context: &Context<'_>) -> Result<(), Failure> {
    let Context {
        environment,
        objects,
        spec,
        change,
        told,
        say,
        progress,
    } = *context;
    let service = change.service.as_str();
    let fail = |message: String| Failure::new(service, message);
    let Some(deployment) = objects.iter().find(|o| o["kind"] == "Deployment") else {
        return Err(fail(
            "a canary needs a Deployment, and the service renders none".into(),
        ));
    };
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
            let applied = apply(&environment.kinds, &beside(deployment, "canary", canary), false).await.map_err(fail)?;
            let canary_workload = Workload { applied: serde_json::to_value(&applied).ok(), ..canary_workload.clone() };
            scale(&deployments, stable_name, stable).await.map_err(fail)?;
            settle(&environment.cluster.client, &canary_workload, spec.rollout.progress_deadline(), progress).await?;
            say(format!(
                "weight {weight}%: {canary} canary and {stable} stable replicas behind one Service (replica-weighted; no mesh route)"
            ));
            if let Some(span) = spec.rollout.pause {
                pause(told, span.0, service).await?;
            }
            analyse(environment, spec, &canary_workload, say).await?;
            go_on(told, service)?;
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
        let canary = beside(&deployment, "canary", 1);
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
