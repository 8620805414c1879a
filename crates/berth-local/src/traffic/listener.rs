//! The listeners on a service's declared ports: HTTP through the same proxy as
//! the gateway, with a single route; any other port forwarded connection by
//! connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::router::Router;
use crate::gateway::{self, Routes};

/// Serves `service`'s HTTP port until the task is aborted.
pub fn listen_http(listener: TcpListener, service: &str, router: Arc<Router>) -> JoinHandle<()> {
    tokio::spawn(gateway::serve(
        listener,
        Routes::single(service),
        router,
        None,
    ))
}

/// Forwards each connection to the port `key` names (`service` or
/// `service:port`) of a ready instance, until the task is aborted.
pub fn listen_tcp(listener: TcpListener, key: String, router: Arc<Router>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                // Out of descriptors, most likely: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let router = router.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let Some(mut outbound) = connect(&router, &key).await else {
                    return;
                };
                let failed = tokio::io::copy_bidirectional(&mut inbound, &mut outbound.0)
                    .await
                    .is_err();
                outbound.1.record(failed, started.elapsed());
            });
        }
    })
}

async fn connect(router: &Router, key: &str) -> Option<(TcpStream, super::Pick)> {
    let mut avoid = None;
    for _ in 0..3 {
        let pick = router.pick(key, avoid)?;
        match TcpStream::connect(("127.0.0.1", pick.port)).await {
            Ok(stream) => return Some((stream, pick)),
            Err(_) => avoid = Some(pick.port),
        }
    }
    None
}
