//! Import: what users keep today turned into a berth.yaml. `compose` reads a
//! Docker Compose project — its files merged as `docker compose -f a -f b` merges
//! them — and writes the berth.yaml that says the same: services, images, builds,
//! commands, ports, environment and env files, depends_on with conditions,
//! healthchecks as probes, restart policies, replicas and resources, profiles as
//! deployments. What has no place in berth.yaml is not dropped in silence: each
//! such thing comes back as a [`Note`] that points at it. Pure: text in, text out.

mod document;
mod env;
mod health;
mod names;
mod note;
mod ports;
mod project;
mod resources;
mod service;

pub use note::Note;
pub use project::{Imported, compose};
