//! The deploy engine: everything that decides, the same for every runtime. It
//! defines the runtime port (units of one service at one revision, applied,
//! watched, removed, and traffic weighted between revisions); judges conditions
//! over what runtimes report; brings a plan up and takes it down in dependency
//! order; turns each service's rollout into pure strategy steps and executes them
//! with smoke checks, canary analysis and automatic restore; and defines what a
//! deployment's history records and the DORA metrics computed from it.

pub mod analysis;
pub mod condition;
pub mod deploy;
pub mod dora;
pub mod execute;
pub mod gate;
pub mod history;
mod http;
pub mod prometheus;
mod runtime;
pub mod smoke;
mod status;
pub mod strategy;
mod target;
mod up;

pub use http::percent_encoded;
pub use runtime::{BoxFuture, Desired, Failure, Runtime, Traffic, Unit};
pub use status::{State, Status, UnitStatus};
pub use target::{Deployed, DeployedService, Target};
pub use up::{Event, down, up};
