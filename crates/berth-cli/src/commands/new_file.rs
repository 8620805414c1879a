//! Writing a berth.yaml that did not exist: `init` and `import` never overwrite.

use std::path::{Path, PathBuf};

use berth_core::{Problem, Problems};

use crate::cli::Global;

/// Where the new berth.yaml goes: `-f FILE`, or berth.yaml here.
pub fn path(global: &Global) -> PathBuf {
    global.file().map_or_else(
        || PathBuf::from(berth_core::load::FILE_NAME),
        Path::to_path_buf,
    )
}

/// Creates `path` with `text`, failing if it exists; `verb` is the command, for
/// the help.
pub fn create(path: &Path, text: &str, verb: &str) -> Result<(), Problems> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            let problem = if e.kind() == std::io::ErrorKind::AlreadyExists {
                Problem::new(format!("{} already exists", path.display())).help(format!(
                    "berth {verb} never overwrites a file: remove it first, or name another with `berth -f FILE {verb}`"
                ))
            } else {
                Problem::new(format!("cannot create {}: {e}", path.display()))
            };
            Problems::one(problem)
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| {
        Problems::one(Problem::new(format!(
            "cannot write {}: {e}",
            path.display()
        )))
    })
}

/// The name of the directory `path` goes in, made into a DNS label.
pub fn default_name(path: &Path) -> String {
    let dir = std::fs::canonicalize(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .ok()
    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    .unwrap_or_default();
    berth_core::load::to_dns_label(&dir).unwrap_or_else(|| "my-ecosystem".to_owned())
}
