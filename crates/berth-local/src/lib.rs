//! The local runtime, berth's embedded default. Each service instance is a child
//! process in its own process group, told its ports through the environment,
//! probed for readiness and liveness, restarted with backoff by its policy, its
//! output captured to `.berth/logs/` and shown prefixed; it is stopped with
//! SIGTERM, a grace period, then SIGKILL to the whole group — and dies with berth
//! if berth is killed. Each service's declared port is berth's own listener,
//! which weighs traffic between revisions for canaries and blue-green switches;
//! the running berth deploys, records history and answers its control socket.

pub mod backup;
mod control;
mod deployer;
mod gateway;
mod guard;
mod instances;
mod launch;
mod log_files;
mod logs;
mod policy;
mod ports;
mod private_file;
mod probe;
mod process;
mod runtime;
mod session;
mod status_cell;
mod supervisor;
mod traffic;

pub use control::{
    Client, InstanceReport, Progress, Reply, Request, RolloutReport, events, request, stream,
};
pub use deployer::{Ask, DeployResult};
pub use instances::{Instances, NewInstance, Processes};
pub use launch::{LaunchError, read_env_file, read_secret};
pub use log_files::{Follower, LogFiles, LogLine};
pub use logs::Sink;
pub use policy::{AfterExit, after_exit, backoff};
pub use ports::Ports;
pub use probe::{CommandCheck, Target, until_failed, until_ready};
pub use process::without_huge_pages;
pub use runtime::Output;
pub use session::{Notice, Session, State, StateDir};
pub use status_cell::StatusCell;
