//! Canary on a cluster. The new version runs as a second Deployment,
//! `SERVICE-canary`. Without a route to the service it is replica-weighted:
//! the service's Service selects the canary's pods as it selects the stable
//! ones, and each step of berth.yaml's weights moves replicas from the stable
//! Deployment to the canary. Where an HTTPRoute or VirtualService routes to
//! it, the weight is the route's: the canary has a Service of its own, the
//! stable Service is narrowed to the stable pods (by the ReplicaSet's
//! `pod-template-hash`, as Argo Rollouts does), and each step sets the two
//! backends' weights. Each step pauses and analyses. At 100 % the route and
//! the Service are put back, the stable Deployment takes the new template by
//! its own rolling update and the canary goes. A failed step puts the route
//! back first, then deletes the canary and gives the stable set its replicas.

use berth_core::model::Service;
use berth_engine::Failure;
use berth_engine::analysis::{MetricProvider, Verdict, judge};
use berth_engine::prometheus::PrometheusMetrics;
use berth_engine::strategy::CANARY_STEPS;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::apply::{apply, said};
use crate::environment::Environment;
use crate::owner::{REVISION, SERVICE};
use crate::service::await_service;
use crate::wait::{Workload, WorkloadKind, settle};

use super::route::weighted;
use super::{Context, STABLE_PODS, TRACK, beside, go_on, narrow, pause};

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
        route,
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
    // An autoscaled Deployment's are the autoscaler's, as the object set has them.
    let replicas = deployment["spec"]["replicas"]
        .as_u64()
        .map_or(change.replicas, |r| r as u32);
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
    let services: Api<KubeService> = Api::namespaced(environment.cluster.client.clone(), namespace);
    let on_route = match (route, objects.iter().find(|o| o["kind"] == "Service")) {
        (Some(route), Some(stable_service)) => Some(OnRoute {
            route,
            stable_service,
        }),
        _ => None,
    };
    let outcome = async {
        if let Some(on_route) = &on_route {
            on_route.begin(environment, &services, stable_name).await.map_err(fail)?;
        }
        for weight in steps.iter().copied().filter(|w| *w < 100) {
            let (canary, stable) = split(replicas, weight);
            let applied = apply(&environment.kinds, &beside(deployment, "canary", canary), false).await.map_err(fail)?;
            let canary_workload = Workload { applied: serde_json::to_value(&applied).ok(), ..canary_workload.clone() };
            // On a route the stable set keeps every replica: the route, not
            // the replicas, gives the canary its share.
            if on_route.is_none() {
                scale(&deployments, stable_name, stable).await.map_err(fail)?;
            }
            settle(environment, &canary_workload, spec.rollout.progress_deadline(), progress).await?;
            match &on_route {
                Some(on_route) => {
                    on_route.weigh(environment, service, weight).await.map_err(fail)?;
                    say(format!(
                        "weight {weight}%: the {} sends {weight}% to {service}-canary ({canary} canary replicas, {replicas} stable)",
                        on_route.route["kind"].as_str().unwrap_or_default()
                    ));
                }
                None => say(format!(
                    "weight {weight}%: {canary} canary and {stable} stable replicas behind one Service (replica-weighted; no route)"
                )),
            }
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
        if let Some(on_route) = &on_route {
            say("the route sends everything to the stable set again".to_owned());
            // The canary goes whatever happens here; the failure said is the step's.
            if let Err(e) = on_route.end(environment, &services, service).await {
                say(format!("could not put the route back: {e}"));
            }
        }
        say("deleting the canary and giving the stable set its replicas back".to_owned());
        let _ = deployments
            .delete(&canary_workload.name, &DeleteParams::background())
            .await;
        scale(&deployments, stable_name, replicas)
            .await
            .map_err(fail)?;
        return Err(failure);
    }
    if let Some(on_route) = &on_route {
        on_route
            .end(environment, &services, service)
            .await
            .map_err(fail)?;
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

/// A canary whose share a route sets: the route as rendered, and the
/// service's own Service.
struct OnRoute<'a> {
    route: &'a Value,
    stable_service: &'a Value,
}

impl OnRoute<'_> {
    /// The canary's own Service, and the stable Service narrowed to the
    /// stable pods, before the route sends the canary anything.
    async fn begin(
        &self,
        environment: &Environment,
        services: &Api<KubeService>,
        stable: &str,
    ) -> Result<(), String> {
        apply(
            &environment.kinds,
            &canary_service(self.stable_service),
            false,
        )
        .await?;
        let hash = stable_pods(environment, self.stable_service, stable).await?;
        let name = self.stable_service["metadata"]["name"]
            .as_str()
            .unwrap_or_default();
        narrow(services, name, STABLE_PODS, Some(&hash)).await
    }

    async fn weigh(
        &self,
        environment: &Environment,
        service: &str,
        weight: u32,
    ) -> Result<(), String> {
        let canary = format!("{service}-canary");
        apply(
            &environment.kinds,
            &weighted(self.route, service, &canary, weight),
            false,
        )
        .await
        .map(drop)
    }

    /// The route as rendered, the stable Service selecting all of the
    /// service's pods again, and the canary's Service gone: the route first,
    /// so that nothing is sent to a Service about to go.
    async fn end(
        &self,
        environment: &Environment,
        services: &Api<KubeService>,
        service: &str,
    ) -> Result<(), String> {
        apply(&environment.kinds, self.route, false).await?;
        let name = self.stable_service["metadata"]["name"]
            .as_str()
            .unwrap_or_default();
        narrow(services, name, STABLE_PODS, None).await?;
        match services
            .delete(&format!("{service}-canary"), &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(format!("deleting the canary's Service: {}", said(&e))),
        }
    }
}

/// The service's Service for the canary's pods alone, `NAME-canary`.
fn canary_service(stable: &Value) -> Value {
    let mut service = stable.clone();
    let name = stable["metadata"]["name"].as_str().unwrap_or_default();
    service["metadata"]["name"] = json!(format!("{name}-canary"));
    service["spec"]["selector"][TRACK] = json!("canary");
    service
}

/// The `pod-template-hash` of the stable Deployment's pods: its ReplicaSet
/// with replicas, the newest if there are more.
async fn stable_pods(
    environment: &Environment,
    service: &Value,
    deployment: &str,
) -> Result<String, String> {
    let namespace = service["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let sets: Api<ReplicaSet> = Api::namespaced(environment.cluster.client.clone(), namespace);
    let selector: Vec<String> = service["spec"]["selector"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    let list = sets
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| format!("reading {deployment}'s ReplicaSets: {}", said(&e)))?;
    let revision = |set: &ReplicaSet| {
        set.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    };
    list.items
        .iter()
        .filter(|set| {
            set.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.kind == "Deployment" && owner.name == deployment)
                && set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0
        })
        .max_by_key(|set| revision(set))
        .and_then(|set| set.metadata.labels.as_ref()?.get(STABLE_PODS).cloned())
        .ok_or_else(|| {
            format!("{deployment} has no ReplicaSet with pods to keep the stable traffic on")
        })
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
        // The canary's pods' own metrics, as the rendered alert rules ask them.
        let metrics =
            PrometheusMetrics::new(url, berth_core::promql::SERVICE_METRICS).map_err(fail)?;
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
