//! One service's objects applied and its workloads awaited: what every
//! rollout, and a restore, does for a service.

use std::time::Duration;

use berth_engine::Failure;
use kube::api::{DeleteParams, DynamicObject};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;

use crate::apply::{apply, said};
use crate::environment::Environment;
use crate::owner::describe;
use crate::wait::{Workload, WorkloadKind, settle};

/// Applies one service's objects, as the server returned them; a Job whose
/// pod template changed is made anew, since the server refuses to change it.
/// The apply is tried first, so that a new or unchanged Job costs no read.
pub async fn apply_service(
    environment: &Environment,
    objects: &[Value],
) -> Result<Vec<DynamicObject>, String> {
    let mut applied = Vec::with_capacity(objects.len());
    for object in objects {
        let answer = match apply(&environment.kinds, object, false).await {
            Err(e) if object["kind"] == "Job" && e.contains("immutable") => {
                delete_job(environment, object).await?;
                apply(&environment.kinds, object, false).await
            }
            answer => answer,
        };
        applied.push(answer?);
    }
    Ok(applied)
}

/// The workloads, each with what its apply returned, to be judged and watched from.
pub fn with_applied(workloads: Vec<Workload>, applied: &[DynamicObject]) -> Vec<Workload> {
    workloads
        .into_iter()
        .map(|mut workload| {
            workload.applied = applied
                .iter()
                .find(|object| {
                    object.metadata.name.as_deref() == Some(workload.name.as_str())
                        && object
                            .types
                            .as_ref()
                            .is_some_and(|t| WorkloadKind::of(&t.kind) == Some(workload.kind))
                })
                .and_then(|object| serde_json::to_value(object).ok());
            workload
        })
        .collect()
}

/// Deletes the live Job, and waits until it is gone.
async fn delete_job(environment: &Environment, object: &Value) -> Result<(), String> {
    let Some(live) = environment.kinds.live(object).await? else {
        return Ok(());
    };
    let api = environment.kinds.api_for(object).await?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uid = live.metadata.uid.clone().unwrap_or_default();
    api.delete(name, &DeleteParams::background())
        .await
        .map_err(|e| format!("replacing {}: {}", describe(object), said(&e)))?;
    let gone = await_condition(api, name, conditions::is_deleted(&uid));
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .map_err(|_| format!("{} was not deleted within 60s", describe(object)))?
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Waits for a service's workloads; a job has a deadline of its own.
pub async fn await_service(
    environment: &Environment,
    workloads: &[Workload],
    spec: &berth_core::model::Service,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), Failure> {
    for workload in workloads {
        let deadline = match workload.kind {
            WorkloadKind::Job => spec.rollout.progress_deadline().max(JOB_DEADLINE),
            _ => spec.rollout.progress_deadline(),
        };
        settle(environment, workload, deadline, progress).await?;
    }
    Ok(())
}

/// How long a job may run when berth.yaml sets no progress deadline longer.
const JOB_DEADLINE: Duration = Duration::from_secs(600);
