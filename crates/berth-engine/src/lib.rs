//! The deploy engine: it executes a plan against any [`Runtime`] — local
//! processes, Docker Compose or Kubernetes — with the same semantics. A service
//! starts once every gate before it holds; a phase is done once each of its
//! services has settled (ready, completed, or started when it has no readiness
//! probe); shutdown walks the dependency graph the other way.

mod runtime;
mod up;

pub use runtime::{Failure, Runtime};
pub use up::{Event, down, settled, up};
