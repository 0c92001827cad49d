//! A folder's snapshots: the images the engine holds under its repository, and jenv's record
//! of each. Listing, rolling back, pruning (here) and pushing (share.rs).

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use crate::clock;
use crate::engine::labels::{self, SnapshotLabels};
use crate::engine::reference;
use crate::error::hinted;
use crate::notebook::Notebook;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::snapshot::interrupted::Pending;

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub tag: String,
    pub image: String,
    /// Unix seconds.
    pub created: u64,
    pub message: String,
    /// Bytes added to the image it was taken from, when jenv's record knows it.
    pub size_added: Option<i64>,
    /// The snapshot the next `jenv up` starts from.
    pub current: bool,
    /// Its `jenv snapshot` was killed while the notebook's packages changed, so it may hold a
    /// half-done install: never made current, and `jenv prune` removes it.
    pub interrupted: bool,
}

pub struct Pruned {
    pub removed: Vec<String>,
    pub in_use: Vec<String>,
}

/// The snapshots of one folder's notebook: images on its engine, records in jenv's state.
pub struct SnapshotStore<'a> {
    pub(super) nb: &'a Notebook,
    records: RecordStore,
    pending: Pending,
}

impl<'a> SnapshotStore<'a> {
    pub fn of(nb: &'a Notebook) -> SnapshotStore<'a> {
        SnapshotStore {
            nb,
            records: RecordStore::new(&nb.state, nb.name()),
            pending: Pending::new(&nb.state, nb.name()),
        }
    }

    /// The folder's snapshots, newest first.
    pub async fn list(&self) -> Result<Vec<SnapshotInfo>> {
        let repository = &self.nb.project.manifest.repository;
        let current = self.nb.engine.inspect_image(&format!("{repository}:latest")).await?.map(|i| i.id);
        let (records, pending) = (&self.records, &self.pending);
        let mut entries = Vec::new();
        for image in self.nb.engine.images_labelled(labels::NAME, self.nb.name()).await? {
            // Spelled `docker.io/jenv/x:TAG` by Podman, `jenv/x:TAG` by Docker.
            let tags = image.repo_tags.iter().filter_map(|t| reference::tag_in(t, repository));
            for tag in tags.filter(|t| t != "latest") {
                let labels = SnapshotLabels::from_map(&image.labels);
                let interrupted = pending.load(&tag)?.is_some_and(|p| p.interrupted);
                let size_added = records.load(&tag)?.map(|r| r.size_added).filter(|_| !interrupted);
                entries.push(SnapshotInfo {
                    tag,
                    image: image.id.clone(),
                    created: labels.created,
                    message: labels.message,
                    size_added,
                    current: current.as_deref() == Some(image.id.as_str()),
                    interrupted,
                });
            }
        }
        entries.sort_by(|a, b| (b.created, &b.tag).cmp(&(a.created, &a.tag)));
        Ok(entries)
    }

    /// Points `latest` at `tag` (default: the snapshot before the current one).
    pub async fn rollback(&self, tag: Option<&str>) -> Result<SnapshotInfo> {
        let _op = self.nb.lock("jenv rollback").await?;
        let history = self.list().await?;
        let target = match tag {
            Some(tag) => history.iter().find(|e| e.tag == tag),
            None => {
                let finished: Vec<&SnapshotInfo> = history.iter().filter(|e| !e.interrupted).collect();
                let current = finished.iter().position(|e| e.current);
                current.and_then(|i| finished.get(i + 1).copied())
            }
        };
        if let Some(target) = target.filter(|e| e.interrupted) {
            hinted!(
                "snapshot {} was interrupted while the notebook's packages changed, so jenv does not start from it",
                target.tag;
                "`jenv prune` removes it; `jenv snapshot` takes a new one"
            );
        }
        let Some(target) = target.cloned() else {
            let known: Vec<&str> = history.iter().map(|e| e.tag.as_str()).collect();
            match tag {
                Some(tag) => hinted!(
                    "no snapshot `{tag}` for this folder (known: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") };
                    "see the snapshots with `jenv history`"
                ),
                None => {
                    hinted!("there is no earlier snapshot to roll back to"; "see the snapshots with `jenv history`")
                }
            }
        };
        let repository = &self.nb.project.manifest.repository;
        self.nb.engine.tag(&format!("{repository}:{}", target.tag), repository, "latest").await?;
        if let Some(record) = self.records.load(&target.tag)? {
            record::write_folder_record(&self.nb.project.folder, &record)?;
        }
        Ok(target)
    }

    /// Removes interrupted snapshots and those beyond the newest `keep`, never the current one
    /// nor one a container uses.
    pub async fn prune(&self, keep: usize) -> Result<Pruned> {
        let _op = self.nb.lock("jenv prune").await?;
        let used: BTreeSet<String> = self.nb.engine.list_all_image_ids().await?;
        let repository = &self.nb.project.manifest.repository;
        let (records, pending) = (&self.records, &self.pending);
        let mut pruned = Pruned { removed: Vec::new(), in_use: Vec::new() };
        let history = self.list().await?;
        for entry in beyond(&history, keep) {
            if entry.current || used.contains(&entry.image) {
                pruned.in_use.push(entry.tag.clone());
                continue;
            }
            if self.nb.engine.remove_image(&format!("{repository}:{}", entry.tag)).await? {
                records.remove(&entry.tag)?;
                pending.remove(&entry.tag)?;
                pruned.removed.push(entry.tag.clone());
            } else {
                pruned.in_use.push(entry.tag.clone());
            }
        }
        // Notes of snapshots whose image never landed, or was removed outside jenv.
        for note in pending.all()? {
            if !history.iter().any(|e| e.tag == note.tag) {
                pending.remove(&note.tag)?;
            }
        }
        Ok(pruned)
    }

    /// The record of the baseline image: its snapshot's record, or an empty record on the base.
    pub async fn record_of(&self, image: &str) -> Result<PackageRecord> {
        let labels = self.nb.engine.inspect_image(image).await?.map(|i| SnapshotLabels::from_map(&i.labels));
        let fresh = PackageRecord { base_image: self.nb.project.manifest.image.clone(), ..Default::default() };
        let Some(labels) = labels.filter(|l| !l.tag.is_empty()) else {
            return Ok(fresh);
        };
        if let Some(record) = self.recorded(&labels)? {
            return Ok(record);
        }
        self.nb.console.warn(format_args!(
            "no record of snapshot {}; the new record lists only changes made since it",
            labels.tag
        ));
        Ok(fresh)
    }

    /// The record of the snapshot whose image carries `labels`: jenv's own, else the one the
    /// image carries (a snapshot pulled from a registry), else the folder's lock file when it
    /// names that snapshot.
    pub fn recorded(&self, labels: &SnapshotLabels) -> Result<Option<PackageRecord>> {
        if let Some(record) = self.records.load(&labels.tag)? {
            return Ok(Some(record));
        }
        if let Some(text) = &labels.record {
            return PackageRecord::parse(text, std::path::Path::new(labels::RECORD)).map(Some);
        }
        Ok(record::read_folder_record(&self.nb.project.folder)?.filter(|record| record.snapshot == labels.tag))
    }

    /// A tag for a snapshot taken at `created`, unique even for several snapshots in one second.
    pub async fn free_tag(&self, created: u64) -> Result<String> {
        let base = clock::tag(created);
        let repository = &self.nb.project.manifest.repository;
        for n in 0.. {
            let tag = if n == 0 { base.clone() } else { format!("{base}-{n}") };
            if self.nb.engine.inspect_image(&format!("{repository}:{tag}")).await?.is_none() {
                return Ok(tag);
            }
        }
        unreachable!("an unbounded range always yields")
    }
}

/// The snapshots prune removes (when nothing uses them): every interrupted one, and the
/// finished ones beyond the newest `keep`.
fn beyond(history: &[SnapshotInfo], keep: usize) -> Vec<&SnapshotInfo> {
    let (interrupted, finished): (Vec<&SnapshotInfo>, Vec<&SnapshotInfo>) = history.iter().partition(|e| e.interrupted);
    interrupted.into_iter().chain(finished.into_iter().skip(keep)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: &str, interrupted: bool) -> SnapshotInfo {
        SnapshotInfo {
            tag: tag.into(),
            image: format!("sha256:{tag}"),
            created: 0,
            message: String::new(),
            size_added: None,
            current: false,
            interrupted,
        }
    }

    #[test]
    fn prune_takes_interrupted_snapshots_whatever_it_keeps() {
        let history = [entry("4", false), entry("3", true), entry("2", false), entry("1", false)];
        let tags = |keep| beyond(&history, keep).iter().map(|e| e.tag.clone()).collect::<Vec<_>>();
        assert_eq!(tags(5), ["3"]);
        assert_eq!(tags(2), ["3", "1"], "the interrupted one does not count towards those kept");
        assert_eq!(tags(0), ["3", "4", "2", "1"]);
    }
}
