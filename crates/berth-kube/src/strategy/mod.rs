//! The rollouts berth runs itself on a cluster, where a Deployment's own
//! rolling update is not what berth.yaml asks for: a canary and blue-green.
//! Everything else is the Deployment's, StatefulSet's or Job's own rollout.

use berth_core::model::{Amount, GatewayKind, Kind, Service, Strategy};
use berth_engine::deploy::{Action, ServiceChange};
use berth_engine::strategy::{CANARY_STEPS, effective};
use std::time::Duration;

use berth_engine::Failure;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service as KubeService;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use crate::environment::Environment;
use serde_json::{Value, json};

/// What `berth promote` and `berth abort` have said, as the deployment hears it.
pub type Told = tokio::sync::watch::Receiver<crate::lease::Told>;

pub mod blue_green;
pub mod canary;
pub mod route;

/// The label that tells a second Deployment's pods from the stable ones.
pub const TRACK: &str = "berth.dev/track";

/// A second Deployment of the new version beside the stable one: its own name
/// (`NAME-TRACK`), and the track label in its selector so that the two never
/// claim each other's pods, while the service's Service selects both.
pub fn beside(deployment: &Value, track: &str, replicas: u32) -> Value {
    let mut second = deployment.clone();
    let name = format!(
        "{}-{track}",
        deployment["metadata"]["name"].as_str().unwrap_or_default()
    );
    second["metadata"]["name"] = json!(name);
    second["spec"]["replicas"] = json!(replicas);
    second["spec"]["selector"]["matchLabels"][TRACK] = json!(track);
    second["spec"]["template"]["metadata"]["labels"][TRACK] = json!(track);
    second
}

/// Waits `span`, or until `berth abort` says to stop.
pub async fn pause(told: &Told, span: Duration, service: &str) -> Result<(), Failure> {
    let mut told = told.clone();
    tokio::select! {
        () = tokio::time::sleep(span) => Ok(()),
        _ = told.wait_for(|t| t.abort) => Err(aborted(service)),
    }
}

/// Waits for a `berth promote` after those already counted, or `berth abort`.
pub async fn until_promoted(told: &Told, service: &str) -> Result<(), Failure> {
    let mut told = told.clone();
    let seen = told.borrow().promotions;
    match told.wait_for(|t| t.abort || t.promotions > seen).await {
        Ok(now) if !now.abort => Ok(()),
        _ => Err(aborted(service)),
    }
}

/// A step's check that no `berth abort` came.
pub fn go_on(told: &Told, service: &str) -> Result<(), Failure> {
    if told.borrow().abort {
        return Err(aborted(service));
    }
    Ok(())
}

fn aborted(service: &str) -> Failure {
    Failure::new(service, "aborted by `berth abort`")
}

/// What a rollout berth runs itself works with.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub environment: &'a Environment,
    /// The service's objects, as this deployment applies them.
    pub objects: &'a [Value],
    /// The HTTPRoute or VirtualService that routes to it, as rendered.
    pub route: Option<&'a Value>,
    pub spec: &'a Service,
    pub change: &'a ServiceChange,
    pub told: &'a Told,
    pub say: &'a (dyn Fn(String) + Sync),
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// Takes away what a canary or blue-green of `deployment` left beside it: the
/// second Deployments, a canary's own Service, and a Service switched to one
/// of them or narrowed to the stable pods. What is not there is no failure.
pub async fn undo_second(environment: &Environment, deployment: &Value) {
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let client = environment.cluster.client.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    for track in ["canary", blue_green::PREVIEW] {
        let _ = deployments
            .delete(&format!("{name}-{track}"), &DeleteParams::background())
            .await;
    }
    let services: Api<KubeService> = Api::namespaced(client, namespace);
    let _ = services
        .delete(&format!("{name}-canary"), &DeleteParams::background())
        .await;
    let _ = blue_green::switch(&services, name, None).await;
    let _ = narrow(&services, name, STABLE_PODS, None).await;
}

/// The label a Deployment's controller gives each ReplicaSet's pods.
pub const STABLE_PODS: &str = "pod-template-hash";

/// Adds `label: value` to the Service's selector, or (`None`) takes it away.
/// A merge patch of the selector alone: berth's apply of the Service does not
/// own the label, so the apply could not take it away again.
pub async fn narrow(
    services: &Api<KubeService>,
    name: &str,
    label: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let patch = json!({ "spec": { "selector": { label: value } } });
    services
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|e| {
            format!(
                "changing the selector of the Service {name}: {}",
                crate::apply::said(&e)
            )
        })
}

/// A rollout berth runs itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Own {
    Canary,
    BlueGreen,
}

/// Whether berth runs `change` itself, and how; `None`: the workload's own rollout.
pub fn own(change: &ServiceChange, spec: &Service) -> Option<Own> {
    if change.action != Action::Update || spec.kind != Kind::Service {
        return None;
    }
    match effective(spec.kind, &spec.rollout) {
        Strategy::Canary => Some(Own::Canary),
        Strategy::BlueGreen => Some(Own::BlueGreen),
        _ => None,
    }
}

/// What a change does on a cluster, as the plan says it: Kubernetes' own
/// rollouts, not the steps berth takes for local processes.
/// `spec` is the service as berth.yaml has it; none for one it no longer has;
/// `gateway` the environment's, whose HTTPRoute or VirtualService weighs a
/// canary of a routed service.
pub fn how(change: &ServiceChange, spec: Option<&Service>, gateway: GatewayKind) -> String {
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
                let share = match gateway {
                    _ if spec.routes.is_empty() => "of the replicas",
                    GatewayKind::Ingress => "of the replicas",
                    GatewayKind::HttpRoute => "of the traffic through the HTTPRoute",
                    GatewayKind::Istio => "of the traffic through the VirtualService",
                };
                format!(
                    "canary {}-canary at {} {share}, analysed after each; then the Deployment's rolling update",
                    change.service,
                    steps.join(" → ")
                )
            }
            Strategy::BlueGreen => format!(
                "blue-green: {}-preview with every replica, then the Service switched to it at once; after {} the Deployment takes the new version",
                change.service,
                humantime::format_duration(
                    spec.rollout
                        .keep_previous
                        .map_or(berth_core::model::Rollout::KEEP_PREVIOUS, |d| d.0)
                )
            ),
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
