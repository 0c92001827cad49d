//! The record of what a folder's environment adds to its base image, kept beside each snapshot
//! (in jenv's state) and, for the current snapshot, in the folder as `.jupyter-env.lock` so it
//! travels with the project and `jenv rebuild` can recreate a lost image anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::packages::{Change, Manager};
use crate::state::files::{read_text, remove_if_exists, write_atomic, write_shared};
use crate::state::{StateDir, Sub};

pub const RECORD_FILE: &str = ".jupyter-env.lock";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRecord {
    /// The snapshot tag this record describes.
    pub snapshot: String,
    /// Unix seconds.
    pub created: u64,
    #[serde(default)]
    pub message: String,
    /// Bytes this snapshot added to the image it was taken from.
    #[serde(default)]
    pub size_added: i64,
    pub base_image: String,
    /// pip requirements the environment adds to its base: name -> `name==1.0` or `name @ URL`.
    #[serde(default)]
    pub pip: BTreeMap<String, String>,
    /// pip packages of the base image the environment removed.
    #[serde(default)]
    pub pip_removed: BTreeSet<String>,
    /// conda packages added: name -> version.
    #[serde(default)]
    pub conda: BTreeMap<String, String>,
    #[serde(default)]
    pub conda_removed: BTreeSet<String>,
}

impl PackageRecord {
    /// Folds a container's package changes into the record of the image it started from.
    /// `requirement` gives the pip requirement for an added package (e.g. a direct URL).
    pub fn apply(&mut self, changes: &[Change], requirement: impl Fn(&str, &str) -> String) {
        for change in changes {
            match change {
                Change::Added { manager, name, version } | Change::Changed { manager, name, to: version, .. } => {
                    match manager {
                        Manager::Pip => {
                            self.pip_removed.remove(name);
                            self.pip.insert(name.clone(), requirement(name, version));
                        }
                        Manager::Conda => {
                            self.conda_removed.remove(name);
                            self.conda.insert(name.clone(), version.clone());
                        }
                    }
                }
                Change::Removed { manager, name, .. } => match manager {
                    Manager::Pip => {
                        if self.pip.remove(name).is_none() {
                            self.pip_removed.insert(name.clone());
                        }
                    }
                    Manager::Conda => {
                        if self.conda.remove(name).is_none() {
                            self.conda_removed.insert(name.clone());
                        }
                    }
                },
            }
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a record always serializes");
        format!(
            "# What this folder's jenv environment adds to its base image. Written by `jenv snapshot`;\n\
             # `jenv rebuild` reinstalls it on the base image. Commit it with your project.\n{body}"
        )
    }

    pub fn parse(text: &str, path: &Path) -> Result<PackageRecord> {
        toml::from_str(text).with_context(|| format!("{} is not a valid jenv record", path.display()))
    }
}

/// Where a folder's snapshot records live in jenv's state.
pub struct RecordStore {
    dir: PathBuf,
}

impl RecordStore {
    pub fn new(state: &StateDir, env_name: &str) -> RecordStore {
        RecordStore { dir: state.sub(Sub::Snapshots).join(env_name) }
    }

    pub fn save(&self, record: &PackageRecord) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.path(&record.snapshot), record.to_toml().as_bytes())
    }

    pub fn load(&self, tag: &str) -> Result<Option<PackageRecord>> {
        read_optional(&self.path(tag))
    }

    pub fn remove(&self, tag: &str) -> Result<()> {
        remove_if_exists(&self.path(tag))
    }

    fn path(&self, tag: &str) -> PathBuf {
        self.dir.join(format!("{tag}.toml"))
    }
}

/// The folder's lock file: the record of its current snapshot.
pub fn read_folder_record(folder: &Path) -> Result<Option<PackageRecord>> {
    read_optional(&folder.join(RECORD_FILE))
}

pub fn write_folder_record(folder: &Path, record: &PackageRecord) -> Result<()> {
    // Shared with the project like the manifest, unlike jenv's private state.
    write_shared(&folder.join(RECORD_FILE), record.to_toml().as_bytes())
}

fn read_optional(path: &Path) -> Result<Option<PackageRecord>> {
    read_text(path)?.map(|text| PackageRecord::parse(&text, path)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(name: &str, version: &str) -> String {
        format!("{name}=={version}")
    }

    fn added(name: &str, version: &str) -> Change {
        Change::Added { manager: Manager::Pip, name: name.into(), version: version.into() }
    }

    fn removed(name: &str) -> Change {
        Change::Removed { manager: Manager::Pip, name: name.into(), version: "1".into() }
    }

    #[test]
    fn additions_accumulate_and_later_removals_cancel_them() {
        let mut record = PackageRecord::default();
        record.apply(&[added("a", "1.0"), added("b", "2.0"), removed("base-pkg")], pinned);
        assert_eq!(record.pip.values().cloned().collect::<Vec<_>>(), ["a==1.0", "b==2.0"]);
        assert!(record.pip_removed.contains("base-pkg"));

        let upgrade = Change::Changed { manager: Manager::Pip, name: "a".into(), from: "1.0".into(), to: "1.1".into() };
        record.apply(&[upgrade, removed("b"), added("base-pkg", "3")], pinned);
        assert_eq!(record.pip.values().cloned().collect::<Vec<_>>(), ["a==1.1", "base-pkg==3"]);
        assert!(record.pip_removed.is_empty());
    }

    #[test]
    fn round_trips_through_toml() {
        let mut record =
            PackageRecord { snapshot: "s1".into(), created: 5, base_image: "img:1".into(), ..Default::default() };
        record.apply(&[added("probe", "1.0")], |n, _| format!("{n} @ file:///w/probe.whl"));
        let parsed = PackageRecord::parse(&record.to_toml(), Path::new("x")).unwrap();
        assert_eq!(parsed, record);
    }

    #[test]
    fn records_are_saved_per_tag() {
        let tmp = tempfile::tempdir().unwrap();
        let records = RecordStore::new(&StateDir { root: tmp.path().into() }, "env");
        let record = PackageRecord { snapshot: "s1".into(), ..Default::default() };
        records.save(&record).unwrap();
        assert_eq!(records.load("s1").unwrap(), Some(record));
        records.remove("s1").unwrap();
        assert_eq!(records.load("s1").unwrap(), None);
    }
}
