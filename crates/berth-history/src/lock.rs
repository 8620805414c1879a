//! Advisory locks on files, held by the open file itself, so the kernel releases
//! them when their process ends however it ends: one deployment at a time per
//! environment, and one berth at a time per project.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// How often a lock held by no one named is asked again, 2 ms apart.
const MOMENT_TRIES: u32 = 100;

/// An exclusive lock on a file that names its holder while it is held.
pub struct FileLock {
    file: File,
}

impl FileLock {
    fn open(path: &Path) -> std::io::Result<File> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }

    /// Takes the lock now, or says who holds it (`Err(holder)`).
    /// A lock held by no one who names themselves is a moment's: [`holder`]'s
    /// shared probe, or a holder between its lock and its name. It is asked
    /// again for a while before it counts as held.
    ///
    /// [`holder`]: FileLock::holder
    pub fn try_take(path: &Path, holder: &str) -> std::io::Result<Result<FileLock, String>> {
        let mut file = Self::open(path)?;
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    write_holder(&mut file, holder)?;
                    return Ok(Ok(FileLock { file }));
                }
                Err(TryLockError::WouldBlock) => {
                    file.rewind()?;
                    let named = read_holder(&mut file);
                    tries += 1;
                    if !named.is_empty() || tries >= MOMENT_TRIES {
                        return Ok(Err(named));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// Waits for the lock; blocks the calling thread.
    pub fn take(path: &Path, holder: &str) -> std::io::Result<Self> {
        let mut file = Self::open(path)?;
        file.lock()?;
        write_holder(&mut file, holder)?;
        Ok(FileLock { file })
    }

    /// Who holds the lock, if anyone does: asked with a shared lock, which takes
    /// nothing from a holder and is let go at once.
    pub fn holder(path: &Path) -> Option<String> {
        let mut file = File::open(path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                None
            }
            Err(_) => Some(read_holder(&mut file)),
        }
    }
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text.trim().to_owned()
}

fn write_holder(file: &mut File, holder: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(holder.as_bytes())
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The file whose lock lets one deployment at a time into an environment.
pub fn environment_lock(state_dir: &Path, environment: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{environment}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_learns_who_holds_it_until_it_is_dropped() {
        let dir = std::env::temp_dir().join(format!("berth-lock-{}", std::process::id()));
        let prod = environment_lock(&dir, "prod");
        let first = FileLock::try_take(&prod, "deployment 4 (pid 1)")
            .unwrap()
            .unwrap();
        let second = FileLock::try_take(&prod, "other").unwrap();
        assert_eq!(second.err().as_deref(), Some("deployment 4 (pid 1)"));
        assert_eq!(
            FileLock::holder(&prod).as_deref(),
            Some("deployment 4 (pid 1)")
        );
        let staging = environment_lock(&dir, "staging");
        assert!(FileLock::try_take(&staging, "x").unwrap().is_ok());
        drop(first);
        assert_eq!(FileLock::holder(&prod), None);
        assert!(FileLock::try_take(&prod, "x").unwrap().is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_probe_of_who_holds_it_does_not_keep_a_taker_out() {
        let dir = std::env::temp_dir().join(format!("berth-lock-probe-{}", std::process::id()));
        let path = environment_lock(&dir, "prod");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        File::create(&path).unwrap();
        // What `holder` does, held long enough for a taker to meet it.
        let probe = File::open(&path).unwrap();
        probe.try_lock_shared().unwrap();
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            drop(probe);
        });
        assert!(FileLock::try_take(&path, "berth (pid 2)").unwrap().is_ok());
        letting_go.join().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
