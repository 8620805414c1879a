//! Files that hold what services and berth said, which may be secrets: made
//! readable by their owner only, and never opened through a link planted in
//! their place.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Opens `path` to append to, or afresh when `truncate`.
pub fn open(path: &Path, truncate: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(!truncate)
        .write(true)
        .truncate(truncate)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    // A file that was there before keeps its mode otherwise.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_never_through_a_link() {
        let dir = std::env::temp_dir().join(format!("berth-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("a.log");
        std::fs::write(&log, "old\n").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&log, false).unwrap());
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "old\n");
        let target = dir.join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let planted = dir.join("b.log");
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        assert!(open(&planted, true).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let _ = std::fs::remove_dir_all(dir);
    }
}
