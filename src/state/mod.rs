//! Per-user state: where it lives, the exclusive lock that guards it, and atomic writes.
//!
//! The engine's labels are the source of truth; this file only remembers what the engine cannot:
//! each environment's token and the host ports it had last (so URLs stay stable).
pub mod env_lock;
pub mod files;
pub mod run_env;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::Hinted;
use crate::state::files::{create_private_dir, read_optional, write_atomic};

pub const STATE_FILE: &str = "state.json";
pub const STATE_LOCK_FILE: &str = "state.lock";
const STATE_VERSION: u32 = 1;

/// The folders inside the state folder, one per kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// Package listings per image ID (packages/baseline.rs).
    Listings,
    /// Snapshot records and pending-snapshot notes, per notebook (packages/record.rs, snapshot/interrupted.rs).
    Snapshots,
    /// The per-notebook operation locks (state/env_lock.rs).
    Locks,
    /// ssh port forwards of notebooks on ssh engines (notebook/forward.rs).
    Forwards,
    /// Each notebook's variables and token (state/run_env.rs).
    Runtime,
    /// The Jupyter config that lets a root host user run Jupyter (notebook/run_as.rs).
    JupyterConfig,
}

impl Sub {
    pub fn dir_name(self) -> &'static str {
        match self {
            Sub::Listings => "listings",
            Sub::Snapshots => "snapshots",
            Sub::Locks => "locks",
            Sub::Forwards => "forwards",
            Sub::Runtime => "runtime",
            Sub::JupyterConfig => "jupyter-config",
        }
    }
}

/// The per-user state folder: `$JENV_HOME`, else the platform's data dir (`~/.local/share/jenv`).
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn locate() -> Result<StateDir> {
        let root = match std::env::var_os("JENV_HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home),
            _ => directories::ProjectDirs::from("", "", "jenv").map(|dirs| dirs.data_dir().to_path_buf()).ok_or_else(
                || {
                    Hinted::new(
                        "cannot find a home folder for jenv's state",
                        "set JENV_HOME to a folder jenv may write",
                    )
                },
            )?,
        };
        Ok(StateDir { root })
    }

    /// Takes the exclusive lock; it is held until the returned guard drops.
    pub fn lock(&self) -> Result<StateLock> {
        self.ensure_exists()?;
        let path = self.root.join(STATE_LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(StateLock { _file: file, dir: self.clone() })
    }

    /// Reads the state without the lock (writes are atomic renames, so a reader sees a whole file).
    pub fn read(&self) -> Loaded {
        let path = self.root.join(STATE_FILE);
        match read_optional(&path) {
            Ok(Some(text)) => match serde_json::from_str::<State>(&text) {
                Ok(state) if state.version == STATE_VERSION => Loaded::Ok(state),
                Ok(state) => Loaded::Corrupt(format!("{} has unknown version {}", path.display(), state.version)),
                Err(err) => Loaded::Corrupt(format!("{} is unreadable: {err}", path.display())),
            },
            Ok(None) => Loaded::Ok(State::default()),
            Err(err) => Loaded::Corrupt(format!("{} cannot be read: {err}", path.display())),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// One of the state folder's own folders.
    pub fn sub(&self, sub: Sub) -> PathBuf {
        self.root.join(sub.dir_name())
    }

    pub fn ensure_exists(&self) -> Result<()> {
        create_private_dir(&self.root)
            .with_context(|| format!("cannot create jenv's state folder {}", self.root.display()))
    }
}

/// Proof that the state lock is held; only a holder may write the state.
pub struct StateLock {
    _file: File,
    dir: StateDir,
}

impl StateLock {
    pub fn read(&self) -> Loaded {
        self.dir.read()
    }

    pub fn write(&self, state: &State) -> Result<()> {
        let text = serde_json::to_string_pretty(state).expect("state always serializes");
        write_atomic(&self.dir.root.join(STATE_FILE), text.as_bytes())
    }
}

/// What reading the state file gave: a state, or why it could not be used.
#[derive(Debug)]
pub enum Loaded {
    Ok(State),
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Keyed by environment name (the manifest's `name`).
    pub environments: BTreeMap<String, EnvState>,
}

impl Default for State {
    fn default() -> State {
        State { version: STATE_VERSION, environments: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvState {
    pub folder: PathBuf,
    pub token: String,
    /// Host port per port name: leased while `leased`, else the folder's preference for next time.
    pub ports: BTreeMap<String, u16>,
    pub leased: bool,
    /// The image whose package listing the running notebook's changes are counted from: the
    /// image it started from, or the snapshot last taken of it.
    #[serde(default)]
    pub baseline: Option<String>,
}

impl State {
    /// Host ports held by environments other than `except`.
    pub fn leased_ports_except(&self, except: &str) -> Vec<u16> {
        self.environments
            .iter()
            .filter(|(name, record)| name.as_str() != except && record.leased)
            .flat_map(|(_, record)| record.ports.values().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn dir() -> (tempfile::TempDir, StateDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir { root: tmp.path().join("jenv") };
        (tmp, dir)
    }

    fn record(port: u16, leased: bool) -> EnvState {
        EnvState {
            folder: PathBuf::from("/p"),
            token: "t".repeat(48),
            ports: BTreeMap::from([("jupyter".into(), port)]),
            leased,
            baseline: None,
        }
    }

    #[test]
    fn missing_state_is_empty() {
        let (_tmp, dir) = dir();
        assert!(matches!(dir.read(), Loaded::Ok(state) if state == State::default()));
    }

    #[test]
    fn write_then_read_round_trips_and_is_private() {
        let (_tmp, dir) = dir();
        let lock = dir.lock().unwrap();
        let mut state = State::default();
        state.environments.insert("a".into(), record(8888, true));
        lock.write(&state).unwrap();
        assert!(matches!(lock.read(), Loaded::Ok(read) if read == state));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.root.join(STATE_FILE)), 0o600);
        assert_eq!(mode(&dir.root.join(STATE_LOCK_FILE)), 0o600);
        assert_eq!(mode(&dir.root), 0o700);
        let leftovers: Vec<_> = fs::read_dir(&dir.root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temp files left: {leftovers:?}");
    }

    #[test]
    fn corrupt_state_is_reported_not_panicked() {
        let (_tmp, dir) = dir();
        dir.ensure_exists().unwrap();
        fs::write(dir.root.join(STATE_FILE), "{ not json").unwrap();
        assert!(matches!(dir.read(), Loaded::Corrupt(msg) if msg.contains("unreadable")));
    }

    #[test]
    fn leased_ports_exclude_own_and_released() {
        let mut state = State::default();
        state.environments.insert("a".into(), record(8888, true));
        state.environments.insert("b".into(), record(8889, false));
        state.environments.insert("c".into(), record(8890, true));
        assert_eq!(state.leased_ports_except("a"), vec![8890]);
    }

    #[test]
    fn lock_is_exclusive_across_handles() {
        let (_tmp, dir) = dir();
        let held = dir.lock().unwrap();
        let other = File::options().write(true).open(dir.root.join(STATE_LOCK_FILE)).unwrap();
        assert!(matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().expect("free once the guard drops");
    }
}
