//! When a rollout is done, still going, or failed — judged from the objects'
//! own status, as pure functions. They close the gaps users meet elsewhere: a
//! status the controller has not caught up with yet (observedGeneration behind
//! the spec's generation) is never read as done, old replicas still running are
//! waited for, and a pod that cannot start fails the rollout at once instead of
//! when a deadline runs out.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ObjectMeta;

/// Where a workload's rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Still going; what it waits for, to show.
    Waiting(String),
    Failed(String),
}

/// Container waiting reasons that do not go away by themselves.
const STUCK: [&str; 6] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The controller has not acted on the latest spec yet: its status says nothing.
fn behind(metadata: &ObjectMeta, observed: Option<i64>) -> Option<Progress> {
    let generation = metadata.generation.unwrap_or(0);
    let observed = observed.unwrap_or(0);
    (observed < generation).then(|| {
        Progress::Waiting(format!(
            "the controller has seen generation {observed} of {generation}"
        ))
    })
}

pub fn deployment(deployment: &Deployment) -> Progress {
    let Some(status) = &deployment.status else {
        return Progress::Waiting("no status yet".to_owned());
    };
    if let Some(waiting) = behind(&deployment.metadata, status.observed_generation) {
        return waiting;
    }
    let stalled = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if let Some(condition) = stalled {
        return Progress::Failed(format!(
            "progress deadline exceeded: {}",
            condition.message.as_deref().unwrap_or("no progress")
        ));
    }
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < desired {
        Progress::Waiting(format!("{updated} of {desired} replicas updated"))
    } else if replicas > updated {
        Progress::Waiting(format!("{} old replicas still running", replicas - updated))
    } else if available < updated {
        Progress::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Progress::Done
    }
}

/// A StatefulSet: with RollingUpdate the controller replaces pods from the
/// highest ordinal down (none below a partition); with OnDelete nothing is
/// replaced until a pod is deleted, which [`on_delete_next`] chooses.
pub fn stateful_set(set: &StatefulSet) -> Progress {
    let Some(status) = &set.status else {
        return Progress::Waiting("no status yet".to_owned());
    };
    if let Some(waiting) = behind(&set.metadata, status.observed_generation) {
        return waiting;
    }
    let spec = set.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let partition = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(ready);
    let updated = status.updated_replicas.unwrap_or(0);
    let current = status.current_revision.as_deref();
    let update = status.update_revision.as_deref();
    if updated < desired - partition {
        Progress::Waiting(format!(
            "{updated} of {} pods run the new revision",
            desired - partition
        ))
    } else if partition == 0 && status.replicas > desired {
        Progress::Waiting(format!(
            "{} pods over the {desired} wanted",
            status.replicas - desired
        ))
    } else if ready < desired || available < desired {
        Progress::Waiting(format!("{ready} of {desired} pods ready"))
    } else if partition == 0 && update.is_some() && current != update {
        Progress::Waiting("the controller is finishing the update".to_owned())
    } else {
        Progress::Done
    }
}

/// For an OnDelete StatefulSet: the pod to delete so that the controller makes
/// it again at the new revision — the highest ordinal still at an old one, and
/// only while every other pod is ready, as RollingUpdate would go.
pub fn on_delete_next<'a>(set: &StatefulSet, pods: &'a [Pod]) -> Option<&'a Pod> {
    let update = set.status.as_ref()?.update_revision.as_deref()?;
    if pods.iter().any(|pod| !ready(pod) || being_deleted(pod)) {
        return None;
    }
    pods.iter()
        .filter(|pod| {
            pod.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("controller-revision-hash"))
                .is_some_and(|hash| hash != update)
        })
        .max_by_key(|pod| ordinal(pod))
}

fn ordinal(pod: &Pod) -> u32 {
    pod.metadata
        .name
        .as_deref()
        .and_then(|name| name.rsplit('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn being_deleted(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

pub fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

pub fn job(job: &Job) -> Progress {
    let Some(status) = &job.status else {
        return Progress::Waiting("not started yet".to_owned());
    };
    for condition in status.conditions.iter().flatten() {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => return Progress::Done,
            "Failed" => {
                return Progress::Failed(format!(
                    "the job failed: {}",
                    condition
                        .message
                        .as_deref()
                        .or(condition.reason.as_deref())
                        .unwrap_or("no reason given")
                ));
            }
            _ => {}
        }
    }
    let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    Progress::Waiting(format!(
        "{} running, {} of {completions} succeeded",
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0)
    ))
}

/// A job judged by its own status and, while that still waits, by its pods:
/// the Job controller records its pods' ends in batches a second apart (its
/// `SyncJobBatchPeriod`), so the pods show a job that has done its work that
/// much sooner, and the services that wait for it start that much sooner.
/// Only where any pod's success counts — a job that is not indexed and runs
/// one pod at a time, or asks for a number of completions — and a failure is
/// still read from the Job alone. A job that succeeds as its active deadline
/// runs out is marked failed after all; its work is done all the same.
pub fn job_with_pods(job: &Job, pods: &[Pod]) -> Progress {
    let progress = self::job(job);
    let Some(completions) = pods_that_complete(job) else {
        return progress;
    };
    if !matches!(progress, Progress::Waiting(_)) {
        return progress;
    }
    let uid = job.metadata.uid.as_deref();
    let succeeded = pods
        .iter()
        .filter(|pod| uid.is_some() && owner_uid(pod) == uid)
        .filter(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
        .count();
    if succeeded >= completions {
        Progress::Done
    } else {
        progress
    }
}

/// How many succeeded pods make `job` complete, where pods alone can tell.
fn pods_that_complete(job: &Job) -> Option<usize> {
    let spec = job.spec.as_ref()?;
    let indexed = spec
        .completion_mode
        .as_deref()
        .is_some_and(|m| m != "NonIndexed");
    if indexed || spec.success_policy.is_some() {
        return None;
    }
    match spec.completions {
        Some(completions) => usize::try_from(completions).ok(),
        // A work queue: done once one pod succeeds and the others have ended.
        None => (spec.parallelism.unwrap_or(1) <= 1).then_some(1),
    }
}

fn owner_uid(pod: &Pod) -> Option<&str> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.as_str())
}

/// Why a pod cannot become ready by itself: unschedulable, or a container stuck
/// in a state that only a change fixes. `None` while it may still come up.
pub fn pod_trouble(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let name = pod.metadata.name.as_deref().unwrap_or("a pod");
    // A pod waits unscheduled while its claims are being bound or provisioned;
    // that passes by itself (or runs into the deadline), so it is no trouble.
    if let Some(unschedulable) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && !c
                .message
                .as_deref()
                .is_some_and(|m| m.contains("PersistentVolumeClaim"))
    }) {
        return Some(format!(
            "{name} cannot be scheduled: {}",
            unschedulable.message.as_deref().unwrap_or("no node fits")
        ));
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if STUCK.contains(&reason) {
            let mut said = format!("{name}: container {} is in {reason}", container.name);
            if let Some(message) = waiting.message.as_deref().filter(|m| !m.is_empty()) {
                said += &format!(": {message}");
            }
            return Some(said);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    //! Statuses as the API server returns them mid-rollout, recorded as JSON.
    use super::*;
    use serde_json::json;

    fn deployment_with(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": "api", "generation": generation },
            "spec": { "replicas": 3, "selector": {}, "template": {} },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_deployment_whose_status_is_a_generation_behind_is_not_done() {
        // The old ReplicaSet's figures all look complete, but they describe generation 1.
        let stale = deployment_with(
            2,
            json!({ "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                    "availableReplicas": 3, "readyReplicas": 3 }),
        );
        assert!(
            matches!(deployment(&stale), Progress::Waiting(w) if w.contains("generation 1 of 2"))
        );
    }

    #[test]
    fn a_deployment_mid_rollout_waits_for_updated_then_old_then_available() {
        let mid = deployment_with(
            2,
            json!({ "observedGeneration": 2, "replicas": 4, "updatedReplicas": 2,
                    "availableReplicas": 3 }),
        );
        assert_eq!(
            deployment(&mid),
            Progress::Waiting("2 of 3 replicas updated".into())
        );
        let old_left = deployment_with(
            2,
            json!({ "observedGeneration": 2, "replicas": 4, "updatedReplicas": 3,
                    "availableReplicas": 3 }),
        );
        assert_eq!(
            deployment(&old_left),
            Progress::Waiting("1 old replicas still running".into())
        );
        let unavailable = deployment_with(
            2,
            json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                    "availableReplicas": 2 }),
        );
        assert_eq!(
            deployment(&unavailable),
            Progress::Waiting("2 of 3 updated replicas available".into())
        );
        let done = deployment_with(
            2,
            json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                    "availableReplicas": 3 }),
        );
        assert_eq!(deployment(&done), Progress::Done);
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_fails() {
        let stalled = deployment_with(
            3,
            json!({ "observedGeneration": 3, "replicas": 4, "updatedReplicas": 1,
                "conditions": [{ "type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"api-7d\" has timed out progressing." }] }),
        );
        assert!(matches!(deployment(&stalled), Progress::Failed(f) if f.contains("timed out")));
    }

    fn stateful_set_with(spec: serde_json::Value, status: serde_json::Value) -> StatefulSet {
        let mut spec_full =
            json!({ "replicas": 3, "selector": {}, "template": {}, "serviceName": "db" });
        spec_full
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "metadata": { "name": "db", "generation": 2 },
            "spec": spec_full,
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_rolling_stateful_set_waits_for_every_pod_at_the_new_revision() {
        let mid = stateful_set_with(
            json!({}),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                    "updatedReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2" }),
        );
        assert!(matches!(stateful_set(&mid), Progress::Waiting(w) if w.contains("1 of 3")));
        let done = stateful_set_with(
            json!({}),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                    "availableReplicas": 3, "updatedReplicas": 3,
                    "currentRevision": "db-2", "updateRevision": "db-2" }),
        );
        assert_eq!(stateful_set(&done), Progress::Done);
        let partitioned = stateful_set_with(
            json!({ "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 2 } } }),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                    "updatedReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2" }),
        );
        assert_eq!(stateful_set(&partitioned), Progress::Done);
    }

    fn pod(name: &str, hash: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "controller-revision-hash": hash } },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        }))
        .unwrap()
    }

    #[test]
    fn an_on_delete_stateful_set_replaces_the_highest_old_pod_once_all_are_ready() {
        let set = stateful_set_with(
            json!({ "updateStrategy": { "type": "OnDelete" } }),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                    "updatedReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2" }),
        );
        assert!(matches!(stateful_set(&set), Progress::Waiting(_)));
        let pods = [
            pod("db-0", "db-1", true),
            pod("db-1", "db-1", true),
            pod("db-2", "db-2", true),
        ];
        assert_eq!(
            on_delete_next(&set, &pods).and_then(|p| p.metadata.name.as_deref()),
            Some("db-1")
        );
        let one_not_ready = [
            pod("db-0", "db-1", true),
            pod("db-1", "db-1", true),
            pod("db-2", "db-2", false),
        ];
        assert!(on_delete_next(&set, &one_not_ready).is_none());
    }

    #[test]
    fn a_job_is_done_when_complete_and_failed_with_its_message() {
        let job_with = |status: serde_json::Value| -> Job {
            serde_json::from_value(json!({ "metadata": { "name": "migrate" }, "spec": { "template": {} }, "status": status })).unwrap()
        };
        assert!(
            matches!(job(&job_with(json!({ "active": 1 }))), Progress::Waiting(w) if w.contains("1 running"))
        );
        assert_eq!(
            job(&job_with(
                json!({ "conditions": [{ "type": "Complete", "status": "True" }] })
            )),
            Progress::Done
        );
        assert!(matches!(
            job(&job_with(json!({ "conditions": [{ "type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] }))),
            Progress::Failed(f) if f.contains("backoff limit")
        ));
    }

    fn job_pod(owner: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": format!("migrate-{owner}-{phase}"), "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": "migrate",
                "uid": owner, "controller": true }] },
            "status": { "phase": phase },
        }))
        .unwrap()
    }

    #[test]
    fn a_job_whose_pod_succeeded_is_done_before_its_controller_says_so() {
        let job_with = |spec: serde_json::Value, status: serde_json::Value| -> Job {
            serde_json::from_value(json!({ "metadata": { "name": "migrate", "uid": "new" },
                "spec": spec, "status": status }))
            .unwrap()
        };
        let running = job_with(json!({ "template": {} }), json!({ "active": 1 }));
        assert!(matches!(job_with_pods(&running, &[]), Progress::Waiting(_)));
        assert_eq!(
            job_with_pods(&running, &[job_pod("new", "Succeeded")]),
            Progress::Done
        );
        // The pod of the Job of the same name that berth deleted and made anew.
        assert!(matches!(
            job_with_pods(&running, &[job_pod("old", "Succeeded")]),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            job_with_pods(&running, &[job_pod("new", "Running")]),
            Progress::Waiting(_)
        ));
        let three = job_with(
            json!({ "template": {}, "completions": 3 }),
            json!({ "active": 1 }),
        );
        let two = [job_pod("new", "Succeeded"), job_pod("new", "Succeeded")];
        assert!(matches!(job_with_pods(&three, &two), Progress::Waiting(_)));
        let indexed = job_with(
            json!({ "template": {}, "completions": 1, "completionMode": "Indexed" }),
            json!({ "active": 1 }),
        );
        assert!(
            matches!(
                job_with_pods(&indexed, &[job_pod("new", "Succeeded")]),
                Progress::Waiting(_)
            ),
            "an indexed job's completions are per index: its own status tells"
        );
        let queue = job_with(
            json!({ "template": {}, "parallelism": 2 }),
            json!({ "active": 2 }),
        );
        assert!(
            matches!(
                job_with_pods(&queue, &[job_pod("new", "Succeeded")]),
                Progress::Waiting(_)
            ),
            "a work queue is done once the other pods have ended too"
        );
        let failed = job_with(
            json!({ "template": {} }),
            json!({ "conditions": [{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }] }),
        );
        assert!(matches!(
            job_with_pods(&failed, &[job_pod("new", "Succeeded")]),
            Progress::Failed(_)
        ));
    }

    #[test]
    fn crash_loops_pull_failures_and_unschedulable_pods_are_trouble() {
        let crash: Pod = serde_json::from_value(json!({
            "metadata": { "name": "api-1" },
            "status": { "containerStatuses": [{ "name": "api", "image": "api:1", "imageID": "",
                "ready": false, "restartCount": 4,
                "state": { "waiting": { "reason": "CrashLoopBackOff",
                    "message": "back-off 40s restarting failed container" } } }] }
        }))
        .unwrap();
        assert_eq!(
            pod_trouble(&crash).unwrap(),
            "api-1: container api is in CrashLoopBackOff: back-off 40s restarting failed container"
        );
        let pending: Pod = serde_json::from_value(json!({
            "metadata": { "name": "api-2" },
            "status": { "conditions": [{ "type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient cpu." }] }
        }))
        .unwrap();
        assert!(pod_trouble(&pending).unwrap().contains("Insufficient cpu"));
        let binding: Pod = serde_json::from_value(json!({
            "metadata": { "name": "db-0" },
            "status": { "conditions": [{ "type": "PodScheduled", "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found" }] }
        }))
        .unwrap();
        assert_eq!(
            pod_trouble(&binding),
            None,
            "a claim being bound is waited for"
        );
        let starting: Pod = serde_json::from_value(json!({
            "metadata": { "name": "api-3" },
            "status": { "containerStatuses": [{ "name": "api", "image": "api:1", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": { "waiting": { "reason": "ContainerCreating" } } }] }
        }))
        .unwrap();
        assert_eq!(pod_trouble(&starting), None);
    }
}
