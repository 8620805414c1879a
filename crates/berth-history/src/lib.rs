//! Where a machine keeps its deployments: an SQLite database in WAL mode under
//! `.berth/`, one row per deployment and one per timeline entry, each written in
//! its own transaction so that a berth killed at any moment loses nothing it had
//! recorded. SQLite rather than redb because DORA and `history` are queries over
//! time ranges, and its WAL is proven crash-safe; it is bundled, so nothing need
//! be installed. Beside it, the environment lock: an OS file lock that only a
//! living process holds, so a killed berth never leaves a deployment "pending".

mod lock;
mod store;

pub use lock::{FileLock, environment_lock};
pub use store::SqliteHistory;
