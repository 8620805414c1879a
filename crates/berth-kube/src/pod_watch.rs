//! One watch of berth's pods in a namespace, shared by every workload waited
//! for there while a command runs, so that a deployment of N workloads holds
//! one watch of pods rather than N. It begins at the resourceVersion the
//! first wait's apply returned, since nothing before matters. A wait that joins
//! later is first told of the pods of its service already seen, then hears
//! each change; both happen under one lock, so no change falls between them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::owner::SERVICE;
use crate::wait::{Events, PodEvent, labelled, pod_events};

pub struct PodWatches {
    client: Client,
    /// The labels of berth's pods of this environment.
    selector: String,
    namespaces: Mutex<BTreeMap<String, Arc<Shared>>>,
}

/// One namespace's watch: the pods seen, who listens, and the task that watches.
struct Shared {
    state: Mutex<State>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    known: BTreeMap<String, Pod>,
    listeners: Vec<(String, mpsc::UnboundedSender<Result<PodEvent, String>>)>,
}

impl PodWatches {
    pub fn new(client: Client, selector: String) -> PodWatches {
        PodWatches {
            client,
            selector,
            namespaces: Mutex::new(BTreeMap::new()),
        }
    }

    /// The pods of `service` in `namespace`: those already seen, then each
    /// change. The namespace's watch begins at `from` when none runs yet.
    pub(crate) fn of(&self, namespace: &str, service: &str, from: &str) -> Events<PodEvent> {
        let shared = self.shared(namespace, from);
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut state = shared.state.lock().expect("no wait panics holding it");
        for pod in state.known.values().filter(|pod| of_service(pod, service)) {
            let _ = sender.send(Ok(PodEvent::Seen(pod.clone())));
        }
        state.listeners.push((service.to_owned(), sender));
        stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        })
        .boxed()
    }

    fn shared(&self, namespace: &str, from: &str) -> Arc<Shared> {
        let mut namespaces = self.namespaces.lock().expect("no wait panics holding it");
        if let Some(shared) = namespaces.get(namespace) {
            return shared.clone();
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            task: Mutex::new(None),
        });
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let events = pod_events(api, self.selector.clone(), Some(from));
        let task = tokio::spawn(watch(events, shared.clone()));
        *shared.task.lock().expect("set once") = Some(task);
        namespaces.insert(namespace.to_owned(), shared.clone());
        shared
    }
}

impl Drop for PodWatches {
    fn drop(&mut self) {
        let namespaces = self
            .namespaces
            .get_mut()
            .expect("no wait panics holding it");
        for shared in namespaces.values() {
            if let Some(task) = shared.task.lock().expect("set once").take() {
                task.abort();
            }
        }
    }
}

/// Keeps what the watch tells, and tells it to those who listen for its
/// service; an error to all. The listeners hear the end when it ends.
async fn watch(mut events: Events<PodEvent>, shared: Arc<Shared>) {
    while let Some(event) = events.next().await {
        let mut state = shared.state.lock().expect("no wait panics holding it");
        let pod = match &event {
            Ok(PodEvent::Seen(pod)) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                state.known.insert(name, pod.clone());
                Some(pod)
            }
            Ok(PodEvent::Gone(pod)) => {
                state
                    .known
                    .remove(pod.metadata.name.as_deref().unwrap_or_default());
                Some(pod)
            }
            Ok(PodEvent::Nothing) => continue,
            Err(_) => None,
        };
        state.listeners.retain(|(service, listener)| {
            if pod.is_some_and(|pod| !of_service(pod, service)) {
                return !listener.is_closed();
            }
            listener.send(event.clone()).is_ok()
        });
    }
    shared
        .state
        .lock()
        .expect("no wait panics holding it")
        .listeners
        .clear();
}

fn of_service(pod: &Pod, service: &str) -> bool {
    labelled(pod, SERVICE, service)
}
