//! `berth logs` on a cluster: the log of every pod of the chosen services, each
//! line prefixed with its pod; with `follow`, the pods are watched, and a pod
//! that appears later — a new revision's, a canary's, a rescheduled one — is
//! followed from its first line, which `kubectl logs -f -l` does not do.

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
/// `None` for a pod no container of which has started.
fn params_for(pod: &Pod, asked: &Asked, tail: Option<i64>) -> Option<LogParams> {
    let service = pod.metadata.labels.as_ref()?.get(SERVICE)?.clone();
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|statuses| {
            statuses
                .iter()
                .any(|c| c.name == service && c.state.as_ref().is_some_and(|s| s.waiting.is_none()))
        });
    started.then(|| LogParams {
        container: Some(service),
        follow: asked.follow,
        tail_lines: tail,
        since_seconds: asked.since_seconds,
        timestamps: asked.timestamps,
        ..LogParams::default()
    })
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
    let mut followed: BTreeSet<String> = BTreeSet::new();
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
                if !followed.insert(pod.metadata.uid.clone().unwrap_or_default()) {
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
