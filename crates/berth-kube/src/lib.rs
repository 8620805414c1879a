//! berth's Kubernetes runtime: a `runtime: kubernetes` environment deployed
//! through the API server (kube-rs), with the typed objects berth-render builds.
//! Objects are server-side applied with field manager `berth`, after a
//! pre-flight for what they reference but berth does not make; each workload
//! goes once what it depends on has settled, judged on its real status
//! (observedGeneration caught up, old replicas gone, stuck pods failing at once
//! with their events and logs as evidence). Canaries are weighted by replicas or
//! on the route, blue-green switches the Service's selector; a failure puts back
//! what the deployment changed from the object set the last good deployment
//! stored. Ports are forwarded to pods, for `berth port-forward`, smoke checks
//! and the backups of data stores, which run on this machine. The
//! history lives in the cluster, as Secrets, and a Lease keeps two deployments
//! of one environment apart and carries promote and abort; everything berth
//! made carries labels naming the ecosystem, environment, service and
//! revision, and nothing without them is touched.

mod apply;
mod autoscaled;
mod cluster;
mod deletion;
pub mod deploy;
mod diff;
pub mod down;
mod environment;
mod history;
mod kinds;
mod lease;
pub mod logs;
mod object_set;
mod owner;
mod pod_watch;
pub mod port_forward;
mod preflight;
mod prune;
mod restore;
pub mod rollout;
mod service;
pub mod status;
mod strategy;
mod timeline;
mod traversal;
pub mod tunnel;
mod wait;

pub use cluster::{Cluster, connect};
pub use diff::diff;
pub use environment::Environment;
pub use history::{BlockingHistory, ClusterHistory};
pub use lease::tell;
pub use object_set::ObjectSet;
pub use owner::{Owner, describe};
pub use preflight::Missing;
pub use strategy::how;
