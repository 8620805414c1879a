//! Which instance takes the next request of a service.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use berth_core::revision::Revision;
use berth_engine::{Traffic, UnitStatus};
use tokio::sync::watch;

/// One revision's instances, as the router knows them.
struct Backends {
    revision: Revision,
    status: watch::Receiver<UnitStatus>,
    /// Instance label → its port for this listener; an instance leaves this list
    /// before it is stopped, so that no new request reaches it.
    ports: Vec<(String, u16)>,
    traffic: Arc<Mutex<Traffic>>,
    next: AtomicU64,
}

#[derive(Default)]
struct ServiceRoutes {
    revisions: Vec<Backends>,
    weights: Vec<(Revision, u32)>,
    next: Arc<AtomicU64>,
}

/// Where one request goes.
#[derive(Clone, Debug)]
pub struct Pick {
    pub port: u16,
    traffic: Arc<Mutex<Traffic>>,
}

impl Pick {
    pub fn record(&self, failed: bool, took: Duration) {
        self.traffic
            .lock()
            .expect("traffic lock")
            .record(failed, took);
    }
}

/// Every service's backends and weights. Keyed by the port's name too, since a
/// service with several ports has a listener for each.
#[derive(Default)]
pub struct Router {
    services: RwLock<HashMap<String, ServiceRoutes>>,
    /// Open connections to instances, shared by every listener and the gateway.
    pub upstreams: super::Upstreams,
}

impl Router {
    /// Sets the instances of `revision` of `service`, one port each for `port_name`.
    pub fn set_backends(
        &self,
        service: &str,
        revision: &Revision,
        status: watch::Receiver<UnitStatus>,
        ports: Vec<(String, u16)>,
    ) {
        let mut services = self.services.write().expect("router lock");
        let routes = services.entry(service.to_owned()).or_default();
        match routes
            .revisions
            .iter_mut()
            .find(|b| b.revision == *revision)
        {
            Some(backends) => {
                backends.ports = ports;
                backends.status = status;
            }
            None => routes.revisions.push(Backends {
                revision: revision.clone(),
                status,
                ports,
                traffic: Arc::default(),
                next: AtomicU64::new(0),
            }),
        }
    }

    /// Forgets a revision: its instances are gone.
    pub fn remove(&self, service: &str, revision: &Revision) {
        let mut services = self.services.write().expect("router lock");
        if let Some(routes) = services.get_mut(service) {
            routes.revisions.retain(|b| b.revision != *revision);
        }
    }

    pub fn set_weights(&self, service: &str, weights: &[(Revision, u32)]) {
        let mut services = self.services.write().expect("router lock");
        services.entry(service.to_owned()).or_default().weights = weights.to_vec();
    }

    pub fn weights(&self, service: &str) -> Vec<(Revision, u32)> {
        let services = self.services.read().expect("router lock");
        services
            .get(service)
            .map(|r| r.weights.clone())
            .unwrap_or_default()
    }

    pub fn traffic(&self, service: &str, revision: &Revision) -> Option<Traffic> {
        let services = self.services.read().expect("router lock");
        let backends = services
            .get(service)?
            .revisions
            .iter()
            .find(|b| b.revision == *revision)?;
        Some(backends.traffic.lock().expect("traffic lock").clone())
    }

    /// Every revision's counts in Prometheus' text format, for a Prometheus that
    /// canary analysis asks (`berth_service_requests_total` by outcome, and the
    /// latency histogram `berth_service_request_duration_seconds`).
    pub fn render_metrics(&self) -> String {
        let services = self.services.read().expect("router lock");
        let mut names: Vec<&String> = services.keys().filter(|k| !k.contains(':')).collect();
        names.sort();
        let mut requests = String::from(
            "# HELP berth_service_requests_total Requests berth's listener passed to a revision.\n# TYPE berth_service_requests_total counter\n",
        );
        let mut latency = String::from(
            "# HELP berth_service_request_duration_seconds Latency through berth's listener.\n# TYPE berth_service_request_duration_seconds histogram\n",
        );
        for name in names {
            for backends in &services[name].revisions {
                let traffic = backends.traffic.lock().expect("traffic lock").clone();
                let labels = format!("service=\"{name}\",revision=\"{}\"", backends.revision);
                requests += &format!(
                    "berth_service_requests_total{{{labels},outcome=\"ok\"}} {}\nberth_service_requests_total{{{labels},outcome=\"error\"}} {}\n",
                    traffic.requests - traffic.errors,
                    traffic.errors
                );
                let mut cumulative = 0;
                for (i, bound) in Traffic::BUCKETS.iter().enumerate() {
                    cumulative += traffic.buckets.get(i).copied().unwrap_or(0);
                    latency += &format!(
                        "berth_service_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}\n",
                        bound.as_secs_f64()
                    );
                }
                latency += &format!(
                    "berth_service_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\nberth_service_request_duration_seconds_count{{{labels}}} {}\n",
                    traffic.requests, traffic.requests
                );
            }
        }
        requests + &latency
    }

    /// The next instance for a request, `avoid`ing one that just refused it.
    pub fn pick(&self, service: &str, avoid: Option<u16>) -> Option<Pick> {
        let services = self.services.read().expect("router lock");
        let routes = services.get(service)?;
        let ready: Vec<(&Backends, Vec<u16>)> = routes
            .revisions
            .iter()
            .map(|b| (b, ready_ports(b, avoid)))
            .filter(|(_, ports)| !ports.is_empty())
            .collect();
        if ready.is_empty() {
            return None;
        }
        let n = routes.next.fetch_add(1, Ordering::Relaxed);
        let weighted: Vec<(&Backends, &Vec<u16>, u32)> = ready
            .iter()
            .filter_map(|(b, ports)| {
                let weight = routes
                    .weights
                    .iter()
                    .find(|(r, _)| *r == b.revision)
                    .map(|(_, w)| *w)?;
                (weight > 0).then_some((*b, ports, weight))
            })
            .collect();
        let (backends, ports) = if routes.weights.is_empty() || weighted.is_empty() {
            // Even: every ready instance of every revision in turn.
            let all: Vec<(&Backends, u16)> = ready
                .iter()
                .flat_map(|(b, ports)| ports.iter().map(move |p| (*b, *p)))
                .collect();
            let (b, port) = all[(n % all.len() as u64) as usize];
            return Some(Pick {
                port,
                traffic: b.traffic.clone(),
            });
        } else {
            // Weighted: spread evenly over a cycle of the weights' total, so that
            // a 10% canary takes exactly 1 request in 10.
            let total: u64 = weighted.iter().map(|(_, _, w)| u64::from(*w)).sum();
            let slot = spread(n, total);
            let mut at = 0;
            let mut chosen = weighted[0];
            for entry in &weighted {
                at += u64::from(entry.2);
                if slot < at {
                    chosen = *entry;
                    break;
                }
            }
            (chosen.0, chosen.1)
        };
        let turn = backends.next.fetch_add(1, Ordering::Relaxed);
        let port = ports[(turn % ports.len() as u64) as usize];
        Some(Pick {
            port,
            traffic: backends.traffic.clone(),
        })
    }
}

fn ready_ports(backends: &Backends, avoid: Option<u16>) -> Vec<u16> {
    let status = backends.status.borrow();
    backends
        .ports
        .iter()
        .filter(|(label, port)| {
            Some(*port) != avoid
                && status
                    .instances
                    .iter()
                    .any(|s| s.label == *label && s.ready)
        })
        .map(|(_, port)| *port)
        .collect()
}

/// Request `n`'s slot in a cycle of `total`, visiting slots in a stride that
/// interleaves revisions rather than sending them runs of requests.
fn spread(n: u64, total: u64) -> u64 {
    // 37 shares no factor with 100, the usual total, nor with most others.
    let stride = if total.is_multiple_of(37) { 1 } else { 37 };
    (n % total) * stride % total
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_engine::Status;

    fn ready(labels: &[&str]) -> watch::Receiver<UnitStatus> {
        let instances = labels
            .iter()
            .map(|label| {
                let mut status = Status::new(label, 0);
                status.ready = true;
                status
            })
            .collect();
        watch::channel(UnitStatus { instances }).1
    }

    #[test]
    fn weights_split_requests_exactly_and_fall_back_to_what_is_ready() {
        let router = Router::default();
        let (old, new) = (Revision("old".into()), Revision("new".into()));
        router.set_backends(
            "api",
            &old,
            ready(&["api", "api.1"]),
            vec![("api".into(), 1), ("api.1".into(), 2)],
        );
        router.set_backends("api", &new, ready(&["api.2"]), vec![("api.2".into(), 3)]);
        router.set_weights("api", &[(new.clone(), 10), (old.clone(), 90)]);
        let picks: Vec<Pick> = (0..100)
            .map(|_| router.pick("api", None).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|p| p.port == 3).count(), 10);
        let first_twenty = picks[..20].iter().filter(|p| p.port == 3).count();
        assert_eq!(first_twenty, 2, "the canary's share is interleaved");
        router.set_weights("api", &[]);
        let ports: Vec<u16> = (0..3)
            .map(|_| router.pick("api", None).unwrap().port)
            .collect();
        assert_eq!(ports.len(), 3);
        router.remove("api", &new);
        router.set_weights("api", &[(new.clone(), 100)]);
        assert_ne!(router.pick("api", None).unwrap().port, 3, "falls back");
        assert_ne!(router.pick("api", Some(1)).unwrap().port, 1);
    }
}
