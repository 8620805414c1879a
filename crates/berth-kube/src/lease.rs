//! The lock against two deployments of one environment at once: a
//! coordination.k8s.io Lease in the environment's namespace, renewed while the
//! deployment runs. A berth that is killed stops renewing it, and the next one
//! takes it over once it has expired — it is never stuck.

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::apply::said;
use crate::wait::object_events;

/// How long a lease holds without renewal.
pub const TERM: Duration = Duration::from_secs(30);

/// What `berth promote` and `berth abort` tell a deployment under way: they
/// annotate its Lease, which the deploying berth watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Told {
    pub promotions: u64,
    pub abort: bool,
}

const PROMOTIONS: &str = "berth.dev/promotions";
const ABORT: &str = "berth.dev/abort";

/// A held lock; renewed in the background until released or dropped.
pub struct Held {
    leases: Api<Lease>,
    name: String,
    renewal: JoinHandle<()>,
    watching: JoinHandle<()>,
    pub told: watch::Receiver<Told>,
}

/// Who holds a lock, for the message to whoever waits.
#[derive(Debug, PartialEq, Eq)]
pub struct HeldBy {
    pub holder: String,
    pub expires_in: Duration,
}

/// Takes the environment's lock, or says who holds it.
pub async fn acquire(
    client: &Client,
    namespace: &str,
    environment: &str,
    holder: &str,
) -> Result<Result<Held, HeldBy>, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let name = format!("berth.lock.{environment}");
    let now = Timestamp::now();
    let fresh = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "berth".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(TERM.as_secs() as i32),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    };
    match leases.create(&PostParams::default(), &fresh).await {
        Ok(made) => return Ok(Ok(hold(leases, name, &made))),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(format!("cannot take the deployment lock: {}", said(&e))),
    }
    let current = leases
        .get(&name)
        .await
        .map_err(|e| format!("cannot read the deployment lock: {}", said(&e)))?;
    if let Some(held) = still_held(&current, now) {
        return Ok(Err(held));
    }
    let mut taken = fresh;
    taken.metadata.resource_version = current.metadata.resource_version.clone();
    match leases.replace(&name, &PostParams::default(), &taken).await {
        Ok(made) => Ok(Ok(hold(leases, name, &made))),
        // Another berth took the expired lease first.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Err(HeldBy {
            holder: "another berth".to_owned(),
            expires_in: TERM,
        })),
        Err(e) => Err(format!("cannot take the deployment lock: {}", said(&e))),
    }
}

/// Who holds `lease` and for how long yet; `None` once it has expired.
pub fn still_held(lease: &Lease, now: Timestamp) -> Option<HeldBy> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let term = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let expires = renewed.as_second() + term;
    let left = expires - now.as_second();
    (left > 0).then(|| HeldBy {
        holder: spec
            .holder_identity
            .clone()
            .unwrap_or_else(|| "someone".to_owned()),
        expires_in: Duration::from_secs(left as u64),
    })
}

fn told(lease: &Lease) -> Told {
    let annotation = |key: &str| {
        lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    Told {
        promotions: annotation(PROMOTIONS)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        abort: annotation(ABORT).as_deref() == Some("true"),
    }
}

/// Tells the deployment of `environment` under way to go on past a pause
/// (`abort: false`) or to stop and restore; an error when none is under way.
pub async fn tell(
    client: &Client,
    namespace: &str,
    environment: &str,
    abort: bool,
) -> Result<(), String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let name = format!("berth.lock.{environment}");
    let lease = leases
        .get_opt(&name)
        .await
        .map_err(|e| format!("cannot read the deployment lock: {}", said(&e)))?
        .filter(|lease| still_held(lease, Timestamp::now()).is_some())
        .ok_or_else(|| format!("no deployment of `{environment}` is under way"))?;
    let now = told(&lease);
    let (key, value) = if abort {
        (ABORT, "true".to_owned())
    } else {
        (PROMOTIONS, (now.promotions + 1).to_string())
    };
    let patch = serde_json::json!({ "metadata": { "annotations": { key: value } } });
    leases
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|e| format!("cannot tell the deployment: {}", said(&e)))
}

/// Holds the lease as `made`, watched for what it is told from the version
/// taking it returned: nothing it was told can come before.
fn hold(leases: Api<Lease>, name: String, made: &Lease) -> Held {
    let (sender, told_rx) = watch::channel(Told::default());
    let watched = leases.clone();
    let watched_name = name.clone();
    let version = made.metadata.resource_version.clone();
    let watching = tokio::spawn(async move {
        let mut changes = object_events(watched, &watched_name, version.as_deref());
        while let Some(Ok(Some(lease))) = changes.next().await {
            sender.send_if_modified(|current| {
                let new = told(&lease);
                let changed = *current != new;
                *current = new;
                changed
            });
        }
    });
    let renewing = leases.clone();
    let lease_name = name.clone();
    let renewal = tokio::spawn(async move {
        loop {
            tokio::time::sleep(TERM / 3).await;
            let renewed =
                serde_json::json!({ "spec": { "renewTime": MicroTime(Timestamp::now()) } });
            let _ = renewing
                .patch(
                    &lease_name,
                    &PatchParams::default(),
                    &Patch::Merge(&renewed),
                )
                .await;
        }
    });
    Held {
        leases,
        name,
        renewal,
        watching,
        told: told_rx,
    }
}

impl Held {
    pub async fn release(self) {
        self.renewal.abort();
        self.watching.abort();
        let _ = self
            .leases
            .delete(&self.name, &DeleteParams::default())
            .await;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewal.abort();
        self.watching.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: i64, term: i32) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
                lease_duration_seconds: Some(term),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn a_lease_holds_for_its_term_after_the_last_renewal_and_no_longer() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(
            still_held(&lease("ana@ci 42", 990, 30), now),
            Some(HeldBy {
                holder: "ana@ci 42".into(),
                expires_in: Duration::from_secs(20)
            })
        );
        assert_eq!(still_held(&lease("killed berth", 960, 30), now), None);
    }
}
