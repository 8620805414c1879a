//! Import: what users keep today turned into a berth.yaml. `compose` reads a
//! Docker Compose project as compose reads it — its files merged as `docker
//! compose -f a -f b` merges them, `include:` and `extends` followed, variables
//! filled in from `.env` — and writes the berth.yaml that runs the same system:
//! services, images, builds, entrypoints and commands, ports with where they are
//! published, volumes, environment and env files, depends_on with conditions,
//! healthchecks as probes, restart policies, replicas and resources, labels,
//! profiles. What has no place in berth.yaml is not dropped in silence: each
//! such thing comes back as a [`Note`] that points at it. Pure: text in, text out.

mod document;
mod env;
mod health;
mod interpolate;
mod merge;
mod names;
mod note;
mod paths;
mod ports;
mod project;
mod resources;
mod service;
mod stand_in;

pub use note::Note;
pub use project::{Imported, Source, compose};
