//! `berth logs` on a cluster: the log of every pod of the chosen services, each
//! line prefixed with its pod; with `follow`, the pods are watched, and a pod
//! that appears later — a new revision's, a canary's, a rescheduled one — is
//! followed from its first line, as is a container started again after it
//! died, which `kubectl logs -f -l` does neither of.

use std::collections::BTreeSet;

use futures_util::io::AsyncBufReadExt;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::watcher::{self, watcher};
use tokio::sync::mpsc;

use crate::apply::said;
use crate::environment::Environment;
use crate::owner::SERVICE;

/// Which lines, as `berth logs` takes them.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub follow: bool,
    /// The last this many lines of each pod that runs when asked.
    pub tail: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
}

/// Each line as `(pod, line)`, to `out`.
pub async fn logs(
    environment: &Environment,
    services: &[String],
    asked: &Asked,
    out: &(dyn Fn(&str, &str) + Sync),
) -> Result<(), String> {
    let mut selector = environment.owner.selector();
    if !services.is_empty() {
        selector += &format!(",{SERVICE} in ({})", services.join(","));
    }
    if asked.follow {
        return follow(environment, &selector, asked, out).await;
    }
    for namespace in &environment.namespaces {
        let pods: Api<Pod> = Api::namespaced(environment.cluster.client.clone(), namespace);
        let mut list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| format!("listing pods in {namespace}: {}", said(&e)))?
            .items;
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for pod in list {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(params) = params_for(&pod, asked, asked.tail) else {
                continue;
            };
            match pods.logs(&name, &params).await {
                Ok(text) => text.lines().for_each(|line| out(&name, line)),
                Err(e) => out(&name, &format!("(no logs: {})", said(&e))),
            }
        }
    }
    Ok(())
}

/// The log request of `pod`'s own container (named after its service);
/// `None` for a pod whose container has not started.
fn params_for(pod: &Pod, asked: &Asked, tail: Option<i64>) -> Option<LogParams> {
    let service = pod.metadata.labels.as_ref()?.get(SERVICE)?.clone();
    started(pod, &service).map(|_| LogParams {
        container: Some(service),
        follow: asked.follow,
        tail_lines: tail,
        since_seconds: asked.since_seconds,
        timestamps: asked.timestamps,
        ..LogParams::default()
    })
}

/// How many times the pod's container `name` was started again, if it runs
/// (or has run) now.
fn started(pod: &Pod, name: &str) -> Option<i32> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name && c.state.as_ref().is_some_and(|s| s.waiting.is_none()))
        .map(|c| c.restart_count)
}

async fn follow(
    environment: &Environment,
    selector: &str,
    asked: &Asked,
    out: &(dyn Fn(&str, &str) + Sync),
) -> Result<(), String> {
    let (lines, mut received) = mpsc::unbounded_channel::<(String, String)>();
    let mut watches = Vec::new();
    for namespace in &environment.namespaces {
        let pods: Api<Pod> = Api::namespaced(environment.cluster.client.clone(), namespace);
        let config = watcher::Config::default().labels(selector);
        watches.push(
            watcher(pods.clone(), config)
                .map_ok(move |event| (pods.clone(), event))
                .boxed(),
        );
    }
    let mut events = futures_util::stream::select_all(watches);
    // Each run of a pod's container: a restarted one is a new log.
    let mut followed: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut listing = true;
    loop {
        tokio::select! {
            event = events.try_next() => {
                let (pods, event) = match event {
                    Ok(Some(event)) => event,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(format!("watching pods: {e}")),
                };
                let pod = match event {
                    watcher::Event::InitApply(pod) => pod,
                    watcher::Event::Apply(pod) => { listing = false; pod }
                    watcher::Event::InitDone => { listing = false; continue }
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                // Pods running when asked show their tail; later ones all they wrote.
                let tail = if listing { asked.tail } else { None };
                let Some(params) = params_for(&pod, asked, tail) else { continue };
                let run = params.container.as_deref().and_then(|c| started(&pod, c)).unwrap_or(0);
                if !followed.insert((pod.metadata.uid.clone().unwrap_or_default(), run)) {
                    continue;
                }
                let lines = lines.clone();
                tokio::spawn(async move {
                    let stream = match pods.log_stream(&name, &params).await {
                        Ok(stream) => stream,
                        Err(e) => {
                            let _ = lines.send((name, format!("(no logs: {})", said(&e))));
                            return;
                        }
                    };
                    let mut each = stream.lines();
                    while let Some(Ok(line)) = each.next().await {
                        if lines.send((name.clone(), line)).is_err() {
                            return;
                        }
                    }
                });
            }
            Some((pod, line)) = received.recv() => out(pod.as_str(), line.as_str()),
        }
    }
}
