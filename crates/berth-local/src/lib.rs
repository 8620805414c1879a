//! The local runtime, berth's embedded default. Each service instance is a child
//! process in its own process group, told its ports through the environment,
//! probed for readiness and liveness, restarted with backoff by its policy, its
//! output captured to `.berth/logs/` and shown prefixed; it is stopped with
//! SIGTERM, a grace period, then SIGKILL to the whole group — and dies with berth
//! if berth is killed.

mod control;
mod gateway;
mod guard;
mod launch;
mod logs;
mod ports;
mod probe;
mod process;
mod runtime;
mod status;
mod supervisor;

pub use control::{InstanceReport, Progress, Reply, Request, request, serve};
pub use gateway::{RouteMetrics, RouteStats, Routes};
pub use ports::Ports;
pub use process::without_huge_pages;
pub use runtime::{LocalRuntime, Output};
pub use status::{State, Status};
