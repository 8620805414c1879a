//! berth's pure core: the `berth.yaml` model, its loader with located errors,
//! environment overlays, validation, the standards check, the dependency graph and
//! the deployment plan. Nothing here starts a process, opens a socket or reads the
//! clock; the runtimes and the CLI build on it, and most of berth's tests live here.

pub mod address;
pub mod check;
pub mod graph;
pub mod load;
pub mod model;
pub mod plan;
pub mod problem;
pub mod promql;
pub mod revision;
pub mod schema;
pub mod source;
pub mod synthetic;
pub mod yaml;

pub use load::{Project, find, load_path, load_str};
pub use model::Ecosystem;
pub use problem::{Problem, Problems};
