//! `berth port-forward` on a cluster: a port on this machine whose every
//! connection reaches a ready pod of the service through the API server, as
//! `kubectl port-forward svc/…` does, except that a pod that goes — a rollout
//! replaced it — is not the end: the next connection goes to a ready one.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::net::{TcpListener, TcpStream};

use crate::apply::said;
use crate::environment::Environment;
use crate::owner::SERVICE;
use crate::strategy::TRACK;

/// Where to forward: the service's pods in `namespace` (of one track, such as
/// a blue-green's preview, or any), their port `remote`.
pub struct Forward<'a> {
    pub namespace: &'a str,
    pub service: &'a str,
    pub track: Option<&'a str>,
    pub remote: u16,
}

impl Forward<'_> {
    /// The labels of the pods it forwards to.
    pub(crate) fn selector(&self, environment: &Environment) -> String {
        let mut selector = format!(
            "{},{SERVICE}={}",
            environment.owner.selector(),
            self.service
        );
        if let Some(track) = self.track {
            selector += &format!(",{TRACK}={track}");
        }
        selector
    }
}

/// Runs `work` with a port on this machine forwarded as `to` says, given
/// the port; the forwarding ends with it.
pub async fn while_forwarded<T>(
    environment: &Environment,
    to: &Forward<'_>,
    work: impl AsyncFnOnce(u16) -> T,
) -> Result<T, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (done, ended) = tokio::sync::oneshot::channel::<()>();
    let forwarding = forward(environment, to, listener, &|_| {}, async {
        let _ = ended.await;
    });
    let working = async {
        let worked = work(port).await;
        let _ = done.send(());
        worked
    };
    let (forwarded, worked) = tokio::join!(forwarding, working);
    forwarded.map(|()| worked)
}

/// Listens on `listener` and forwards each connection until `stop` ends.
pub async fn forward(
    environment: &Environment,
    to: &Forward<'_>,
    listener: TcpListener,
    said_to: &(dyn Fn(String) + Sync),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let pods: Api<Pod> = Api::namespaced(environment.cluster.client.clone(), to.namespace);
    let selector = to.selector(environment);
    let first = first_ready(&pods, &selector, to).await?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    said_to(format!(
        "Forwarding from {local} -> {} (pod {first})",
        to.remote
    ));
    let mut pod = first;
    tokio::pin!(stop);
    loop {
        let (connection, _) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(|e| format!("accepting on {local}: {e}"))?,
            () = &mut stop => return Ok(()),
        };
        // The pod of the last connection, while it is still there and ready.
        if !still_ready(&pods, &pod).await {
            pod = first_ready(&pods, &selector, to).await?;
            said_to(format!("Forwarding to pod {pod} now"));
        }
        let forwarder = match pods.portforward(&pod, &[to.remote]).await {
            Ok(forwarder) => forwarder,
            Err(e) => {
                said_to(format!("cannot forward to pod {pod}: {}", said(&e)));
                continue;
            }
        };
        tokio::spawn(pipe(connection, forwarder, to.remote));
    }
}

/// One connection, both ways, until either side closes.
async fn pipe(mut connection: TcpStream, mut forwarder: kube::api::Portforwarder, port: u16) {
    if let Some(mut upstream) = forwarder.take_stream(port) {
        let _ = tokio::io::copy_bidirectional(&mut connection, &mut upstream).await;
        drop(upstream);
    }
    let _ = forwarder.join().await;
}

/// The name of the first ready pod, or why there is none.
async fn first_ready(pods: &Api<Pod>, selector: &str, to: &Forward<'_>) -> Result<String, String> {
    let pod = ready_pod(pods, selector, to).await?;
    let pod = pod.ok_or_else(|| none_ready(to))?;
    Ok(pod.metadata.name.unwrap_or_default())
}

/// A ready pod of the service that is not going, the first by name, if any.
pub(crate) async fn ready_pod(
    pods: &Api<Pod>,
    selector: &str,
    to: &Forward<'_>,
) -> Result<Option<Pod>, String> {
    let list = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("listing the pods of `{}`: {}", to.service, said(&e)))?;
    Ok(list
        .items
        .into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none() && crate::rollout::ready(pod))
        .min_by(|a, b| a.metadata.name.cmp(&b.metadata.name)))
}

pub(crate) fn none_ready(to: &Forward<'_>) -> String {
    format!(
        "no pod of `{}` is ready in namespace {}; `berth status` shows why",
        to.service, to.namespace
    )
}

async fn still_ready(pods: &Api<Pod>, name: &str) -> bool {
    matches!(
        pods.get_opt(name).await,
        Ok(Some(pod)) if pod.metadata.deletion_timestamp.is_none() && crate::rollout::ready(&pod)
    )
}
