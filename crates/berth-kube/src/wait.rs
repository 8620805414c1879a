//! Waiting for a workload to settle, on watches rather than polling: the
//! workload itself (its rollout judged by [`crate::rollout`] on every change)
//! and the pods of its new revision (any of them stuck fails the wait at once).
//! A failure carries the stuck pod's events and last log lines as evidence.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use berth_engine::Failure;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, watch_object, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::environment::Environment;
use crate::owner::{REVISION, SERVICE};
use crate::rollout::{self, Progress};

/// A workload berth waits for: what kind, where, and whose.
#[derive(Clone, Debug)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub service: String,
    pub revision: String,
    /// The workload as berth's apply returned it: judged first, and the watches
    /// start at its resourceVersion without listing, as nothing before matters.
    pub applied: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    Job,
}

impl WorkloadKind {
    pub fn of(kind: &str) -> Option<WorkloadKind> {
        match kind {
            "Deployment" => Some(WorkloadKind::Deployment),
            "StatefulSet" => Some(WorkloadKind::StatefulSet),
            "Job" => Some(WorkloadKind::Job),
            _ => None,
        }
    }
}

/// Waits until `workload` is rolled out (or, for a job, complete), for at most
/// `deadline`; `show` hears each new state.
pub async fn settle(
    environment: &Environment,
    workload: &Workload,
    deadline: Duration,
    show: &(dyn Fn(&str) + Sync),
) -> Result<(), Failure> {
    let namespace = &workload.namespace;
    let client = &environment.cluster.client;
    match workload.kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            settle_with(
                environment,
                workload,
                api,
                |deployment, _| rollout::deployment(deployment),
                no_nudge,
                deadline,
                show,
            )
            .await
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
            settle_with(
                environment,
                workload,
                api,
                |set, _| rollout::stateful_set(set),
                on_delete,
                deadline,
                show,
            )
            .await
        }
        WorkloadKind::Job => {
            let api: Api<Job> = Api::namespaced(client.clone(), namespace);
            settle_with(
                environment,
                workload,
                api,
                rollout::job_with_pods,
                no_nudge,
                deadline,
                show,
            )
            .await
        }
    }
}

fn no_nudge<K>(_: &K, _: &[Pod]) -> Option<String> {
    None
}

/// An OnDelete StatefulSet's next pod to delete, so that it comes back new.
fn on_delete(set: &StatefulSet, pods: &[Pod]) -> Option<String> {
    let on_delete = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    if !on_delete {
        return None;
    }
    rollout::on_delete_next(set, pods).and_then(|pod| pod.metadata.name.clone())
}

/// What a watch of pods tells.
#[derive(Clone)]
pub(crate) enum PodEvent {
    Seen(Pod),
    Gone(Pod),
    Nothing,
}

pub(crate) type Events<T> = BoxStream<'static, Result<T, String>>;

/// The workload's states: from `applied_at` when given (and then, should that
/// watch end, as a listing watch goes on), else a listing watch.
pub(crate) fn object_events<K>(
    api: Api<K>,
    name: &str,
    applied_at: Option<&str>,
) -> Events<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let listing = watch_object(api.clone(), name).map_err(|e| e.to_string());
    let Some(version) = applied_at.map(str::to_owned) else {
        return listing.boxed();
    };
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(WATCH_SECONDS);
    let from_apply = stream::once(async move { api.watch(&params, &version).await })
        .map(|opened| opened.map_err(|e| e.to_string()))
        .map_ok(|events| events.map_err(|e| e.to_string()))
        .try_flatten()
        .try_filter_map(|event| async move {
            match event {
                WatchEvent::Added(object) | WatchEvent::Modified(object) => Ok(Some(Some(object))),
                WatchEvent::Deleted(_) => Ok(Some(None)),
                WatchEvent::Bookmark(_) => Ok(None),
                WatchEvent::Error(status) => Err(status.message),
            }
        });
    from_apply.chain(listing).boxed()
}

/// The pods matching `labels`, as `object_events` watches the workload.
pub(crate) fn pod_events(
    api: Api<Pod>,
    labels: String,
    applied_at: Option<&str>,
) -> Events<PodEvent> {
    let listing = watcher(api.clone(), watcher::Config::default().labels(&labels))
        .map_err(|e| e.to_string())
        .map_ok(|event| match event {
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => PodEvent::Seen(pod),
            watcher::Event::Delete(pod) => PodEvent::Gone(pod),
            _ => PodEvent::Nothing,
        });
    let Some(version) = applied_at.map(str::to_owned) else {
        return listing.boxed();
    };
    let params = WatchParams::default()
        .labels(&labels)
        .timeout(WATCH_SECONDS);
    let from_apply = stream::once(async move { api.watch(&params, &version).await })
        .map(|opened| opened.map_err(|e| e.to_string()))
        .map_ok(|events| events.map_err(|e| e.to_string()))
        .try_flatten()
        .and_then(|event| async move {
            match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => Ok(PodEvent::Seen(pod)),
                WatchEvent::Deleted(pod) => Ok(PodEvent::Gone(pod)),
                WatchEvent::Bookmark(_) => Ok(PodEvent::Nothing),
                WatchEvent::Error(status) => Err(status.message),
            }
        });
    from_apply.chain(listing).boxed()
}

/// The longest a watch may be held open; one that ends goes on as a listing watch.
const WATCH_SECONDS: u32 = 290;

async fn settle_with<K>(
    environment: &Environment,
    workload: &Workload,
    api: Api<K>,
    judge: fn(&K, &[Pod]) -> Progress,
    nudge: fn(&K, &[Pod]) -> Option<String>,
    deadline: Duration,
    show: &(dyn Fn(&str) + Sync),
) -> Result<(), Failure>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let client = &environment.cluster.client;
    let service = &workload.service;
    let fail = |message: String| Failure::new(service, message);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &workload.namespace);
    // An OnDelete StatefulSet needs its old pods too, so it lists them first;
    // trouble counts only in pods of the new revision.
    let applied_at = workload
        .applied
        .as_ref()
        .and_then(|object| object.pointer("/metadata/resourceVersion"))
        .and_then(serde_json::Value::as_str);
    let from = match workload.kind {
        WorkloadKind::StatefulSet => None,
        _ => applied_at,
    };
    let mut pods = match from {
        Some(version) => environment.pods.of(&workload.namespace, service, version),
        None => pod_events(pods_api.clone(), format!("{SERVICE}={service}"), None),
    };
    let mut object = object_events(api, &workload.name, from);
    let mut known: BTreeMap<String, Pod> = BTreeMap::new();
    let mut latest: Option<K> = workload
        .applied
        .clone()
        .and_then(|object| serde_json::from_value(object).ok());
    let mut said = String::new();
    let timer = tokio::time::sleep(deadline);
    tokio::pin!(timer);
    let mut first = latest.is_some();
    loop {
        // The applied object is judged before anything is awaited: a workload
        // that is already settled sends no further event.
        if !std::mem::take(&mut first) {
            tokio::select! {
                () = &mut timer => {
                    let pods: Vec<Pod> = known.values().cloned().collect();
                    let last = latest.as_ref().map(|current| judge(current, &pods)).map_or("never seen".to_owned(), |p| format!("{p:?}"));
                    return Err(fail(format!("not settled within {}s: {last}", deadline.as_secs())));
                }
                event = pods.try_next() => {
                    match event {
                        Ok(Some(PodEvent::Seen(pod))) => {
                            if of_revision(&pod, &workload.revision)
                                && let Some(trouble) = rollout::pod_trouble(&pod)
                            {
                                let mut failure = fail(trouble);
                                failure.last_lines = evidence(client, &pod).await;
                                return Err(failure);
                            }
                            known.insert(pod.metadata.name.clone().unwrap_or_default(), pod);
                        }
                        Ok(Some(PodEvent::Gone(pod))) => {
                            known.remove(pod.metadata.name.as_deref().unwrap_or_default());
                        }
                        Ok(Some(PodEvent::Nothing)) => {}
                        Ok(None) => return Err(fail("the watch of its pods ended".into())),
                        Err(e) => return Err(fail(format!("watching its pods: {e}"))),
                    }
                }
                event = object.try_next() => {
                    match event {
                        Ok(Some(Some(current))) => latest = Some(current),
                        Ok(Some(None)) => {
                            return Err(fail(format!("{} was deleted while berth waited for it", workload.name)));
                        }
                        Ok(None) => return Err(fail("the watch ended".into())),
                        Err(e) => return Err(fail(format!("watching {}: {e}", workload.name))),
                    }
                }
            }
        }
        let Some(current) = &latest else { continue };
        let pods: Vec<Pod> = known.values().cloned().collect();
        match judge(current, &pods) {
            Progress::Done => return Ok(()),
            Progress::Failed(message) => {
                let mut failure = fail(message);
                if let Some(pod) = known
                    .values()
                    .find(|p| of_revision(p, &workload.revision) && !rollout::ready(p))
                {
                    failure.last_lines = evidence(client, pod).await;
                }
                return Err(failure);
            }
            Progress::Waiting(waiting) => {
                if waiting != said {
                    show(&waiting);
                    said = waiting;
                }
                if let Some(old) = nudge(current, &pods) {
                    show(&format!(
                        "OnDelete: deleting {old} so that it comes back at the new revision"
                    ));
                    pods_api
                        .delete(&old, &DeleteParams::default())
                        .await
                        .map_err(|e| fail(format!("deleting {old}: {e}")))?;
                    known.remove(&old);
                }
            }
        }
    }
}

fn of_revision(pod: &Pod, revision: &str) -> bool {
    labelled(pod, REVISION, revision)
}

/// Whether `pod`'s label `key` is `value`.
pub(crate) fn labelled(pod: &Pod, key: &str, value: &str) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(key))
        .is_some_and(|found| found == value)
}

/// A stuck pod's events and the last lines of its stuck container, oldest first.
pub async fn evidence(client: &Client, pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut lines = Vec::new();
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    if let Ok(list) = events.list(&params).await {
        for event in list.items {
            lines.push(format!(
                "event {} {}: {}",
                event.type_.unwrap_or_default(),
                event.reason.unwrap_or_default(),
                event.message.unwrap_or_default().trim()
            ));
        }
    }
    let container = stuck_container(pod);
    let restarted = pod
        .status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .any(|c| Some(&c.name) == container.as_ref() && c.restart_count > 0);
    let params = LogParams {
        container,
        tail_lines: Some(20),
        previous: restarted,
        ..LogParams::default()
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    // Evidence is not worth a stuck deployment: a node that does not answer
    // for the log leaves it out.
    match tokio::time::timeout(EVIDENCE_LOGS, pods.logs(&name, &params)).await {
        Ok(Ok(text)) => lines.extend(text.lines().map(|line| format!("log {name}: {line}"))),
        Ok(Err(e)) => lines.push(format!("no logs of {name}: {}", crate::apply::said(&e))),
        Err(_) => lines.push(format!(
            "no logs of {name}: its node did not answer within {}s",
            EVIDENCE_LOGS.as_secs()
        )),
    }
    lines
}

/// How long the last lines of a failed pod's log are waited for.
const EVIDENCE_LOGS: std::time::Duration = std::time::Duration::from_secs(10);

/// The container that keeps the pod from being ready: the first waiting one.
fn stuck_container(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| c.state.as_ref().and_then(|s| s.waiting.as_ref()).is_some() || !c.ready)
        .map(|c| c.name.clone())
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map(|c| c.name.clone())
        })
}
