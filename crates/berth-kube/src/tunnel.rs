//! A data store on the cluster as `berth backup` and `berth restore` reach it
//! from this machine: a port of 127.0.0.1 forwarded to a ready pod of the
//! store, so that the store's own tools run here against it as they do
//! against a local store; the revision that pod runs; and the password its
//! tools log in with, read from the Secret the pod is given and only ever held
//! in memory. The forwarding runs on a thread with a runtime of its own,
//! because the backups' code is blocking and runs the tools as processes.

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::Api;
use tokio::net::TcpListener;

use crate::apply::said;
use crate::environment::Environment;
use crate::owner::REVISION;
use crate::port_forward::{Forward, forward, none_ready, ready_pod};

/// Which store to reach, and how.
pub struct Reach {
    /// The kubeconfig's context, else its current one.
    pub context: Option<String>,
    pub ecosystem: berth_core::Ecosystem,
    pub namespace: String,
    pub service: String,
    /// The pod's port the tools talk to.
    pub remote: u16,
    /// The Secret and its key that hold the tools' password, if they need one.
    pub password: Option<(String, String)>,
}

/// A store reached: forwarded until dropped.
pub struct Tunnel {
    /// Where the store answers on 127.0.0.1.
    pub port: u16,
    /// The pod the first connection goes to.
    pub pod: String,
    /// The ecosystem revision that pod runs.
    pub revision: Option<String>,
    pub password: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Why a store was not reached.
#[derive(Debug)]
pub struct Unreached {
    pub message: String,
    /// What to do, where berth knows.
    pub help: Option<String>,
    /// Whether it is because no pod of the store is ready: one that is not
    /// deployed, or not running.
    pub not_running: bool,
}

impl Unreached {
    fn failed(message: impl Into<String>) -> Unreached {
        Unreached {
            message: message.into(),
            help: None,
            not_running: false,
        }
    }
}

/// What the forwarding thread tells the one that opened it.
struct Opened {
    port: u16,
    pod: String,
    revision: Option<String>,
    password: Option<String>,
}

impl Tunnel {
    /// Forwards a port to a ready pod of the store, or says why it cannot.
    pub fn open(reach: Reach) -> Result<Tunnel, Unreached> {
        let (opened, told) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("forward {}", reach.service))
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(serve(reach, opened, stopped)),
                    Err(e) => {
                        let _ = opened.send(Err(Unreached::failed(format!(
                            "cannot start a runtime: {e}"
                        ))));
                    }
                }
            })
            .map_err(|e| {
                Unreached::failed(format!("cannot start a thread to forward a port: {e}"))
            })?;
        match told.recv() {
            Ok(Ok(open)) => Ok(Tunnel {
                port: open.port,
                pod: open.pod,
                revision: open.revision,
                password: open.password,
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(Unreached::failed("the thread that forwards the port ended")),
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    reach: Reach,
    opened: std::sync::mpsc::Sender<Result<Opened, Unreached>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let environment = match crate::connect(reach.context.as_deref()).await {
        Ok(cluster) => Environment::new(cluster, &reach.ecosystem),
        Err(e) => {
            let _ = opened.send(Err(Unreached::failed(e)));
            return;
        }
    };
    let to = Forward {
        namespace: &reach.namespace,
        service: &reach.service,
        track: None,
        remote: reach.remote,
    };
    match ready(&environment, &to, reach.password.as_ref()).await {
        Err(e) => {
            let _ = opened.send(Err(e));
        }
        Ok((listener, open)) => {
            let _ = opened.send(Ok(open));
            let stop = async {
                let _ = stopped.await;
            };
            let _ = forward(&environment, &to, listener, &|_| {}, stop).await;
        }
    }
}

/// A ready pod, the password and a port to listen on.
async fn ready(
    environment: &Environment,
    to: &Forward<'_>,
    password: Option<&(String, String)>,
) -> Result<(TcpListener, Opened), Unreached> {
    let client = environment.cluster.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), to.namespace);
    let pod = ready_pod(&pods, &to.selector(environment), to)
        .await
        .map_err(Unreached::failed)?
        .ok_or_else(|| Unreached {
            message: none_ready(to),
            help: Some(format!(
                "deploy it first: `berth deploy -e {}`",
                environment.owner.environment
            )),
            not_running: true,
        })?;
    let password = match password {
        Some((name, key)) => Some(secret_value(client, to, name, key).await?),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Unreached::failed(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Unreached::failed(e.to_string()))?
        .port();
    let revision = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION))
        .cloned();
    Ok((
        listener,
        Opened {
            port,
            pod: pod.metadata.name.unwrap_or_default(),
            revision,
            password,
        },
    ))
}

/// The value of `key` in Secret `name`, which is never shown.
async fn secret_value(
    client: kube::Client,
    to: &Forward<'_>,
    name: &str,
    key: &str,
) -> Result<String, Unreached> {
    let secrets: Api<Secret> = Api::namespaced(client, to.namespace);
    let where_ = format!(
        "Secret {}/{name}, key `{key}`, which `{}`'s tools log in with",
        to.namespace, to.service
    );
    let missing = |what: &str| Unreached {
        message: format!("{where_}, {what}"),
        help: Some(format!(
            "it is the password the store is given: `kubectl -n {} create secret generic {name} --from-literal={key}=…` (or add the key to it)",
            to.namespace
        )),
        not_running: false,
    };
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|e| Unreached::failed(format!("reading {where_}: {}", said(&e))))?
        .ok_or_else(|| missing("is not there"))?;
    let value = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .ok_or_else(|| missing("has no such key"))?;
    String::from_utf8(value.0.clone())
        .map_err(|_| Unreached::failed(format!("{where_}, is not text")))
}
