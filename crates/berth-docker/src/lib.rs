//! berth's Docker runtime: each service instance is a container on the Docker
//! Engine, reached through the Engine's API (bollard), never its CLI. It plugs
//! into the runtime a running berth hosts as its [`Instances`](berth_local::Instances):
//! the units, berth's weighted listeners in front of the containers' published
//! ports, logs on disk, probes and the deploy engine are the same as for local
//! processes. Containers, the network and volumes carry labels that name the
//! project, ecosystem, environment, service, instance and revision, so that berth
//! finds its own — and only its own — after a restart. Images come from each
//! service's build section, tagged by the content they were built from.

mod container;
mod containers;
mod engine;
mod image;
mod labels;
mod life;
pub mod seed;

pub use containers::Containers;
pub use engine::{Engine, connect};
pub use labels::Owner;
