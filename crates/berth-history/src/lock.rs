//! One deployment at a time per environment: an advisory lock on a file, held by
//! the open file itself, so the kernel releases it when its process ends however
//! it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub struct EnvironmentLock {
    file: File,
}

impl EnvironmentLock {
    fn path(state_dir: &Path, environment: &str) -> PathBuf {
        state_dir.join("locks").join(format!("{environment}.lock"))
    }

    fn open(state_dir: &Path, environment: &str) -> std::io::Result<File> {
        let path = Self::path(state_dir, environment);
        std::fs::create_dir_all(path.parent().expect("a lock has a folder"))?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }

    /// Takes the lock now, or says who holds it (`Err(Some(holder))`).
    pub fn try_take(
        state_dir: &Path,
        environment: &str,
        holder: &str,
    ) -> std::io::Result<Result<EnvironmentLock, String>> {
        let mut file = Self::open(state_dir, environment)?;
        match file.try_lock() {
            Ok(()) => {
                write_holder(&mut file, holder)?;
                Ok(Ok(EnvironmentLock { file }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Ok(Err(text.trim().to_owned()))
            }
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Waits for the lock; blocks the calling thread.
    pub fn take(state_dir: &Path, environment: &str, holder: &str) -> std::io::Result<Self> {
        let mut file = Self::open(state_dir, environment)?;
        file.lock()?;
        write_holder(&mut file, holder)?;
        Ok(EnvironmentLock { file })
    }
}

fn write_holder(file: &mut File, holder: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(holder.as_bytes())
}

impl Drop for EnvironmentLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_learns_who_holds_it_until_it_is_dropped() {
        let dir = std::env::temp_dir().join(format!("berth-lock-{}", std::process::id()));
        let first = EnvironmentLock::try_take(&dir, "prod", "deployment 4 (pid 1)")
            .unwrap()
            .unwrap();
        let second = EnvironmentLock::try_take(&dir, "prod", "other").unwrap();
        assert_eq!(second.err().as_deref(), Some("deployment 4 (pid 1)"));
        assert!(
            EnvironmentLock::try_take(&dir, "staging", "x")
                .unwrap()
                .is_ok()
        );
        drop(first);
        assert!(
            EnvironmentLock::try_take(&dir, "prod", "x")
                .unwrap()
                .is_ok()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
