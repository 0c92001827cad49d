//! A folder's snapshots as the engine holds them: listing, rolling back, pruning.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use crate::engine::label;
use crate::environment::Context;
use crate::error::hinted;
use crate::record::{self, Records};
use crate::reference;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub tag: String,
    pub image: String,
    /// Unix seconds.
    pub created: u64,
    pub message: String,
    /// Bytes added to the image it was taken from, when jenv's record knows it.
    pub size_added: Option<i64>,
    /// The snapshot the next `jenv up` starts from.
    pub current: bool,
}

pub struct Pruned {
    pub removed: Vec<String>,
    pub in_use: Vec<String>,
}

impl Context {
    /// The folder's snapshots, newest first.
    pub async fn history(&self) -> Result<Vec<Entry>> {
        let repository = &self.project.manifest.repository;
        let current = self.engine.inspect_image(&format!("{repository}:latest")).await?.and_then(|i| i.id);
        let records = Records::new(&self.state, self.env_name());
        let mut entries = Vec::new();
        for image in self.engine.images_labelled(label::NAME, self.env_name()).await? {
            // Spelled `docker.io/jenv/x:TAG` by Podman, `jenv/x:TAG` by Docker.
            let tags = image.repo_tags.iter().filter_map(|t| reference::tag_in(t, repository));
            for tag in tags.filter(|t| t != "latest") {
                let created = image.labels.get(label::SNAPSHOT_CREATED).and_then(|s| s.parse().ok()).unwrap_or(0);
                let size_added = records.load(&tag)?.map(|r| r.size_added);
                entries.push(Entry {
                    tag,
                    image: image.id.clone(),
                    created,
                    message: image.labels.get(label::SNAPSHOT_MESSAGE).cloned().unwrap_or_default(),
                    size_added,
                    current: current.as_deref() == Some(image.id.as_str()),
                });
            }
        }
        entries.sort_by(|a, b| (b.created, &b.tag).cmp(&(a.created, &a.tag)));
        Ok(entries)
    }

    /// Points `latest` at `tag` (default: the snapshot before the current one).
    pub async fn rollback(&self, tag: Option<&str>) -> Result<Entry> {
        let history = self.history().await?;
        let target = match tag {
            Some(tag) => history.iter().find(|e| e.tag == tag),
            None => {
                let current = history.iter().position(|e| e.current);
                current.and_then(|i| history.get(i + 1))
            }
        };
        let Some(target) = target.cloned() else {
            let known: Vec<&str> = history.iter().map(|e| e.tag.as_str()).collect();
            match tag {
                Some(tag) => hinted!(
                    "see the snapshots with `jenv history`",
                    "no snapshot `{tag}` for this folder (known: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
                None => {
                    hinted!("see the snapshots with `jenv history`", "there is no earlier snapshot to roll back to")
                }
            }
        };
        let repository = &self.project.manifest.repository;
        self.engine.tag(&format!("{repository}:{}", target.tag), repository, "latest").await?;
        if let Some(record) = Records::new(&self.state, self.env_name()).load(&target.tag)? {
            record::write_lock(&self.project.folder, &record)?;
        }
        Ok(target)
    }

    /// Removes snapshots beyond the newest `keep`, never the current one nor one a container uses.
    pub async fn prune(&self, keep: usize) -> Result<Pruned> {
        let used: BTreeSet<String> = self.engine.list_all_image_ids().await?;
        let repository = &self.project.manifest.repository;
        let records = Records::new(&self.state, self.env_name());
        let mut pruned = Pruned { removed: Vec::new(), in_use: Vec::new() };
        for entry in self.history().await?.into_iter().skip(keep) {
            if entry.current || used.contains(&entry.image) {
                pruned.in_use.push(entry.tag);
                continue;
            }
            if self.engine.remove_image(&format!("{repository}:{}", entry.tag)).await? {
                records.remove(&entry.tag)?;
                pruned.removed.push(entry.tag);
            } else {
                pruned.in_use.push(entry.tag);
            }
        }
        Ok(pruned)
    }
}
