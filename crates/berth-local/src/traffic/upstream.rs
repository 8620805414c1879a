//! Connections to instances, kept open between requests as a reverse proxy
//! keeps its upstream connections: a request takes an idle one that is ready,
//! or opens one. A request that never left berth — refused, or offered to a
//! connection the instance had just closed — comes back to be sent elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per instance port.
const IDLE_PER_PORT: usize = 64;

#[derive(Default)]
pub struct Upstreams {
    idle: Mutex<HashMap<u16, Vec<SendRequest<Incoming>>>>,
    /// Requests on their way to each port that it has not yet answered.
    unanswered: Mutex<HashMap<u16, usize>>,
}

/// One request counted as unanswered until it is dropped.
struct Unanswered<'a> {
    upstreams: &'a Upstreams,
    port: u16,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        let mut counts = self.upstreams.unanswered.lock().expect("upstream lock");
        if let Some(count) = counts.get_mut(&self.port) {
            *count -= 1;
        }
    }
}

/// Why a request got no answer, and the request when it was never sent.
pub struct Unsent {
    pub request: Option<Request<Incoming>>,
    pub error: String,
}

impl Upstreams {
    fn take(&self, port: u16) -> Option<SendRequest<Incoming>> {
        let mut idle = self.idle.lock().expect("upstream lock");
        let senders = idle.get_mut(&port)?;
        senders.retain(|s| !s.is_closed());
        let ready = senders.iter().position(SendRequest::is_ready)?;
        Some(senders.swap_remove(ready))
    }

    fn put(&self, port: u16, sender: SendRequest<Incoming>) {
        let mut idle = self.idle.lock().expect("upstream lock");
        let senders = idle.entry(port).or_default();
        senders.retain(|s| !s.is_closed());
        if senders.len() < IDLE_PER_PORT {
            senders.push(sender);
        }
    }

    /// Closes the idle connections to an instance that is about to stop, so that
    /// no request meets one as the instance closes it.
    pub fn forget(&self, port: u16) {
        self.idle.lock().expect("upstream lock").remove(&port);
    }

    /// Waits until every request sent to `port` has its answer begun, or `limit`
    /// passes: an instance that stops while a request is on its way to it would
    /// close the connection under it.
    pub async fn answered(&self, port: u16, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let unanswered = || {
            let counts = self.unanswered.lock().expect("upstream lock");
            counts.get(&port).copied().unwrap_or(0)
        };
        while unanswered() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Sends `request` to the instance on `port`.
    pub async fn send(
        &self,
        port: u16,
        mut request: Request<Incoming>,
    ) -> Result<Response<Incoming>, Unsent> {
        *self
            .unanswered
            .lock()
            .expect("upstream lock")
            .entry(port)
            .or_default() += 1;
        let _unanswered = Unanswered {
            upstreams: self,
            port,
        };
        loop {
            let pooled = self.take(port);
            let reused = pooled.is_some();
            let mut sender = match pooled {
                Some(sender) => sender,
                None => match connect(port).await {
                    Ok(sender) => sender,
                    Err(error) => {
                        return Err(Unsent {
                            request: Some(request),
                            error,
                        });
                    }
                },
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.put(port, sender);
                    return Ok(response);
                }
                Err(mut failed) => match failed.take_message() {
                    // An idle connection the instance closed meanwhile: a new one.
                    Some(unsent) if reused => request = unsent,
                    unsent => {
                        return Err(Unsent {
                            request: unsent,
                            error: failed.into_error().to_string(),
                        });
                    }
                },
            }
        }
    }
}

async fn connect(port: u16) -> Result<SendRequest<Incoming>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}
