//! One jenv operation at a time per environment: `up` creating or starting the container,
//! `snapshot`, `down` and `rebuild` hold an exclusive lock on `locks/NAME.lock` in the state
//! folder, with what they are doing written inside so that others can say what they wait for.
//!
//! The state lock (`state.lock`) guards the port leases for a moment; this one may be held for
//! the seconds a commit takes, and only by commands about the same folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::state::files::private_dir;
use crate::state::{StateDir, Sub};

/// Held while an operation runs; the lock is released when it drops.
#[derive(Debug)]
pub struct EnvLock {
    _file: File,
}

pub struct EnvLocks {
    dir: PathBuf,
}

impl EnvLocks {
    pub fn new(state: &StateDir) -> EnvLocks {
        EnvLocks { dir: state.sub(Sub::Locks) }
    }

    /// Takes the lock for `env_name`, waiting while another jenv process holds it; `on_wait`
    /// hears who that is (`` `jenv snapshot (pid 42)` ``) before the wait. `activity` names this
    /// operation for others to see, e.g. `jenv snapshot`.
    pub async fn acquire(&self, env_name: &str, activity: &str, on_wait: impl FnOnce(&str)) -> Result<EnvLock> {
        let mut file = self.open(env_name)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait(&holder_phrase(&holder_of(&mut file)));
                file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                    .await
                    .context("the lock wait was cancelled")?
                    .context("cannot lock the environment")?;
            }
            Err(TryLockError::Error(err)) => return Err(err).context("cannot lock the environment"),
        }
        held(file, activity)
    }

    /// Takes the lock for `env_name` if no other jenv process holds it; `None` when one does.
    pub fn try_acquire(&self, env_name: &str, activity: &str) -> Result<Option<EnvLock>> {
        let file = self.open(env_name)?;
        match file.try_lock() {
            Ok(()) => held(file, activity).map(Some),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(err)) => Err(err).context("cannot lock the environment"),
        }
    }

    /// What another jenv process is doing to `env_name` right now, if anything.
    pub fn busy(&self, env_name: &str) -> Option<String> {
        let mut file = File::open(self.path(env_name)).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(holder_of(&mut file)),
        }
    }

    fn open(&self, env_name: &str) -> Result<File> {
        private_dir(&self.dir)?;
        let path = self.path(env_name);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))
    }

    fn path(&self, env_name: &str) -> PathBuf {
        self.dir.join(format!("{env_name}.lock"))
    }
}

/// The lock just taken on `file`, with `activity` written inside for others to see.
fn held(mut file: File, activity: &str) -> Result<EnvLock> {
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{activity} (pid {})", std::process::id())?;
    Ok(EnvLock { _file: file })
}

fn holder_of(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    text.trim().to_string()
}

fn holder_phrase(holder: &str) -> String {
    if holder.is_empty() { "another jenv command on this folder".to_string() } else { format!("`{holder}`") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_lock_is_busy_with_its_activity_and_free_once_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let locks = EnvLocks::new(&StateDir { root: tmp.path().join("jenv") });
        assert_eq!(locks.busy("env"), None, "never locked");
        let held = locks.acquire("env", "jenv snapshot", |_| {}).await.unwrap();
        let busy = locks.busy("env").expect("held");
        assert!(busy.starts_with("jenv snapshot (pid "), "{busy}");
        assert_eq!(locks.busy("other"), None, "per environment");
        drop(held);
        assert_eq!(locks.busy("env"), None);
        let again = locks.acquire("env", "jenv up", |_| {}).await.unwrap();
        assert!(locks.busy("env").unwrap().starts_with("jenv up (pid "), "the old text is replaced");
        drop(again);
    }

    #[tokio::test]
    async fn try_acquire_gives_way_to_a_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let locks = EnvLocks::new(&StateDir { root: tmp.path().join("jenv") });
        let held = locks.acquire("env", "jenv snapshot", |_| {}).await.unwrap();
        assert!(locks.try_acquire("env", "jenv status").unwrap().is_none());
        assert!(locks.busy("env").unwrap().starts_with("jenv snapshot (pid "), "the holder's text is kept");
        drop(held);
        let taken = locks.try_acquire("env", "jenv status").unwrap().expect("free");
        assert!(locks.busy("env").unwrap().starts_with("jenv status (pid "));
        drop(taken);
    }

    #[tokio::test]
    async fn a_second_acquire_waits_for_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let locks = EnvLocks::new(&StateDir { root: tmp.path().join("jenv") });
        let held = locks.acquire("env", "first", |_| {}).await.unwrap();
        let waiter = tokio::spawn({
            let locks = EnvLocks { dir: locks.dir.clone() };
            async move { locks.acquire("env", "second", |_| {}).await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "the second waits while the first holds the lock");
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap().unwrap();
    }
}
