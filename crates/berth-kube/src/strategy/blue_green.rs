//! Blue-green on a cluster: the new version runs in full as a second
//! Deployment, `SERVICE-preview`, while the Service still sends every request
//! to the stable set. Once every preview pod is ready, the Service's selector
//! is switched to the preview's track — the cut-over, all at once. After
//! `keep_previous` the stable Deployment takes the new version by its own
//! rolling update, unseen behind the switched Service; then the Service selects
//! both sets again (now one version) and the preview goes.
//! A failure before the switch deletes the preview and leaves the stable set
//! as it was; after it, the Service is switched back first.

use berth_core::model::{Rollout, Service};
use berth_engine::Failure;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service as KubeService;
use kube::api::{Api, DeleteParams};

use super::{Context, TRACK, beside, go_on, pause, until_promoted};
use crate::apply::{apply, said};
use crate::environment::Environment;
use crate::owner::REVISION;
use crate::port_forward::{Forward, while_forwarded};
use crate::service::await_service;
use crate::wait::{Workload, WorkloadKind, settle};

pub const PREVIEW: &str = "preview";

/// Runs the blue-green rollout of `change`; its objects other than workloads
/// are applied.
pub async fn run(context: &Context<'_>) -> Result<(), Failure> {
    let Context {
        environment,
        objects,
        spec,
        change,
        told,
        say,
        progress,
        ..
    } = *context;
    let name = change.service.as_str();
    let fail = |message: String| Failure::new(name, message);
    let has_service = objects.iter().any(|o| o["kind"] == "Service");
    let Some(deployment) = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .filter(|_| has_service)
    else {
        return Err(fail(
            "blue-green needs a Deployment and a Service to switch, and the service renders no Service (give it a port)".into(),
        ));
    };
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let stable = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let deployments: Api<Deployment> =
        Api::namespaced(environment.cluster.client.clone(), namespace);
    let services: Api<KubeService> = Api::namespaced(environment.cluster.client.clone(), namespace);
    let preview = Workload {
        kind: WorkloadKind::Deployment,
        namespace: namespace.to_owned(),
        name: format!("{stable}-{PREVIEW}"),
        service: name.to_owned(),
        revision: deployment["metadata"]["labels"][REVISION]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        applied: None,
    };
    let applied = apply(
        &environment.kinds,
        &beside(deployment, PREVIEW, change.replicas),
        false,
    )
    .await
    .map_err(fail)?;
    let preview = Workload {
        applied: serde_json::to_value(&applied).ok(),
        ..preview
    };
    let deadline = spec.rollout.progress_deadline();
    let ready = async {
        settle(environment, &preview, deadline, progress).await?;
        if spec.rollout.manual_promotion {
            say("the preview is ready; waiting for `berth promote` to switch to it".to_owned());
            until_promoted(told, name).await?;
        }
        go_on(told, name)
    };
    let checked = async {
        ready.await?;
        say(format!("{} preview replicas ready", change.replicas));
        smoke(environment, spec, &preview, say).await
    };
    if let Err(failure) = checked.await {
        say("deleting the preview; the stable set kept every request".to_owned());
        let _ = deployments
            .delete(&preview.name, &DeleteParams::background())
            .await;
        return Err(failure);
    }
    switch(&services, stable, Some(PREVIEW))
        .await
        .map_err(fail)?;
    say(format!(
        "switched the Service to the new set; the old one stays for {}",
        humantime::format_duration(keep(&spec.rollout))
    ));
    let taken = async {
        pause(told, keep(&spec.rollout), name)
            .await
            .map_err(|f| f.message)?;
        let applied = apply(&environment.kinds, deployment, false).await?;
        let stable = Workload {
            name: stable.to_owned(),
            applied: serde_json::to_value(&applied).ok(),
            ..preview.clone()
        };
        await_service(environment, &[stable], spec, progress)
            .await
            .map_err(|f| f.message)
    }
    .await;
    // Both sets run the new version now, or the stable set failed to take it:
    // either way the Service goes back to its rendered selector, and the preview.
    if let Err(message) = taken {
        let _ = switch(&services, stable, None).await;
        let _ = deployments
            .delete(&preview.name, &DeleteParams::background())
            .await;
        return Err(fail(message));
    }
    switch(&services, stable, None).await.map_err(fail)?;
    deployments
        .delete(&preview.name, &DeleteParams::background())
        .await
        .map_err(|e| fail(format!("deleting the preview: {}", said(&e))))?;
    say("the stable Deployment runs the new version; the preview is gone".to_owned());
    Ok(())
}

/// The smoke checks, against a pod of the preview through a port-forward,
/// before the Service is switched to it.
async fn smoke(
    environment: &Environment,
    spec: &Service,
    preview: &Workload,
    say: &(dyn Fn(String) + Sync),
) -> Result<(), Failure> {
    let fail = |message: String| Failure::new(&preview.service, message);
    if spec.rollout.smoke.is_empty() {
        return Ok(());
    }
    let Some((_, port)) = spec.main_port() else {
        return Err(fail("smoke checks need a port to send to".to_owned()));
    };
    let to = Forward {
        namespace: &preview.namespace,
        service: &preview.service,
        track: Some(PREVIEW),
        remote: port.0,
    };
    let checked = while_forwarded(environment, &to, async |local| {
        let address = format!("127.0.0.1:{local}");
        for check in &spec.rollout.smoke {
            berth_engine::smoke::check(&address, check)
                .await
                .map_err(|why| {
                    format!(
                        "smoke check {} {} failed against the preview: {why}",
                        check.method, check.path
                    )
                })?;
        }
        Ok::<_, String>(())
    })
    .await
    .map_err(fail)?;
    checked.map_err(fail)?;
    say(format!(
        "{} smoke checks passed against the preview, through a port-forward",
        spec.rollout.smoke.len()
    ));
    Ok(())
}

fn keep(rollout: &Rollout) -> std::time::Duration {
    rollout
        .keep_previous
        .map_or(Rollout::KEEP_PREVIOUS, |d| d.0)
}

/// Points the Service at one track's pods, or (`None`) back at all of the
/// service's. A merge patch of the selector alone: berth's apply of the Service
/// does not own the track, so the apply could not take it away again.
pub async fn switch(
    services: &Api<KubeService>,
    name: &str,
    track: Option<&str>,
) -> Result<(), String> {
    super::narrow(services, name, TRACK, track).await
}
