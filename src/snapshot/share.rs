//! `jenv push`: a folder's snapshots sent to the registry its manifest's `repository` names
//! (notebook/image.rs pulls them back). Each snapshot carries its record as a label, so the
//! receiving side knows what it holds; what a push sends is the environment, never this
//! machine's paths (folder, state folder, home, user name), which stay in local labels and state.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::helper::with_helper;
use crate::engine::image_config::ImageConfig;
use crate::engine::labels;
use crate::engine::reference;
use crate::engine::registry::{self, Credentials};
use crate::engine::types::ContainerSpec;
use crate::error::hinted;
use crate::notebook::image;
use crate::snapshot::store::{SnapshotInfo, SnapshotStore};

#[derive(Debug, Serialize)]
pub struct Pushed {
    pub repository: String,
    /// The snapshot the folder is on (also pushed as `latest`).
    pub current: String,
    pub tags: Vec<String>,
}

impl SnapshotStore<'_> {
    /// Pushes the current snapshot and `latest` (with `all`, every snapshot of the folder), each
    /// as a copy without this machine's details (see [`SnapshotStore::shareable_copy`]).
    pub async fn push(&self, all: bool) -> Result<Pushed> {
        let host = image::registry_host(&self.nb.project)?.to_string();
        // The tags name the copies while they go: no snapshot or `up` may move or use them meanwhile.
        let _op = self.nb.lock("jenv push").await?;
        let repository = self.nb.project.manifest.repository.clone();
        let history = self.list().await?;
        let Some(current) = history.iter().find(|e| e.current) else {
            hinted!("this folder has no snapshot to push"; "take one with `jenv snapshot` first");
        };
        // An interrupted snapshot is nobody's to start from.
        let sent: Vec<&SnapshotInfo> =
            if all { history.iter().filter(|e| !e.interrupted).collect() } else { vec![current] };
        let credentials = registry::credentials_for(&repository)?;
        for (image, tags) in &tags_by_image(&sent, current) {
            match self.shareable_copy(image, &tags[0]).await? {
                Some(copy) => {
                    let pushed = self.push_tags(&copy, tags, &host, credentials.clone()).await;
                    let restored = self.restore_tags(&copy, image).await;
                    pushed.and(restored)?;
                }
                None => self.push_tags(image, tags, &host, credentials.clone()).await?,
            }
        }
        let mut tags: Vec<String> = sent.iter().map(|e| e.tag.clone()).collect();
        tags.push("latest".to_string());
        Ok(Pushed { repository, current: current.tag.clone(), tags })
    }

    /// A copy of the snapshot `image` as `REPOSITORY:tag`, with the same files and config but
    /// nothing of this machine: the labels holding its paths ([`labels::HOST`]) blanked. Returns
    /// the copy's ID, or `None` for an image that holds nothing of this machine: every image jenv
    /// commits here carries its `jenv.home` (snapshot.rs), so one without it is such a copy
    /// already (a pulled snapshot).
    async fn shareable_copy(&self, image: &str, tag: &str) -> Result<Option<String>> {
        let original = self.nb.engine.inspect_image(image).await?.context("the snapshot image vanished")?;
        if !labels::holds_host_paths(&original.labels) {
            return Ok(None);
        }
        let mut config = original.config;
        config.labels_mut().extend(labels::blanked_for_push());
        let repository = &self.nb.project.manifest.repository;
        // The same layers under a new config, without a commit where the engine allows it.
        if let Some(copy) = self.nb.engine.copy_with_config(image, config.clone(), repository, tag).await? {
            return Ok(Some(copy));
        }
        self.committed_copy(image, tag, config).await.map(Some)
    }

    /// The copy as a commit of a helper container that never carried this machine's labels: an
    /// engine's commit also records the committed container's own config (Docker's
    /// `container_config`), which for the snapshot was the notebook's, with its folder, state
    /// folder and mount paths. A commit of an unchanged container adds no layer, but compares
    /// every file of the image on engines without overlay2's diff.
    async fn committed_copy(&self, image: &str, tag: &str, config: ImageConfig) -> Result<String> {
        // The engine gives a container its image's labels unless it names them itself.
        let mut helper_labels = labels::blanked_for_push();
        helper_labels.insert(labels::MANAGED.to_string(), labels::HELPER.to_string());
        let helper = ContainerSpec {
            name: format!("{}-share-{}", self.nb.project.container_name(), std::process::id()),
            image: image.to_string(),
            user: String::new(),
            env: Vec::new(),
            labels: helper_labels,
            binds: Vec::new(),
            working_dir: String::new(),
            ports: Default::default(),
            tmpfs: Vec::new(),
            entrypoint: None,
            cmd: None,
            limits: Default::default(),
        };
        let repository = &self.nb.project.manifest.repository;
        let spinner = self.nb.console.spinner(&format!("copying {tag} without this machine's paths"));
        let copy = with_helper(&self.nb.engine, &helper, async |name: &str| {
            self.nb.engine.commit(name, repository, tag, config, false).await
        })
        .await;
        spinner.finish();
        copy
    }

    /// Names `copy` by every one of `tags` and pushes them.
    async fn push_tags(&self, copy: &str, tags: &[String], host: &str, credentials: Option<Credentials>) -> Result<()> {
        let repository = &self.nb.project.manifest.repository;
        for tag in tags {
            self.nb.engine.tag(copy, repository, tag).await?;
        }
        for tag in tags {
            self.nb
                .engine
                .push(repository, tag, credentials.clone(), &self.nb.console)
                .await
                .map_err(|err| image::transfer_error(host, repository, "push", err))?;
        }
        Ok(())
    }

    /// Points every tag of the folder's repository that names `copy` back at `original` (the
    /// same files, with this machine's labels), then removes the copy.
    async fn restore_tags(&self, copy: &str, original: &str) -> Result<()> {
        let repository = &self.nb.project.manifest.repository;
        let named = self.nb.engine.inspect_image(copy).await?.map(|i| i.repo_tags).unwrap_or_default();
        for tag in named.iter().filter_map(|t| reference::tag_in(t, repository)) {
            self.nb.engine.tag(original, repository, &tag).await?;
        }
        self.nb.engine.remove_image(copy).await?;
        Ok(())
    }
}

/// The tags of `sent` grouped by the image they name, in `sent`'s order (newest first);
/// `latest` goes with `current`'s image. One copy per image is pushed under all its tags.
fn tags_by_image<'a>(sent: &[&'a SnapshotInfo], current: &'a SnapshotInfo) -> Vec<(&'a str, Vec<String>)> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    let latest = std::iter::once((current.image.as_str(), "latest"));
    for (image, tag) in sent.iter().map(|e| (e.image.as_str(), e.tag.as_str())).chain(latest) {
        match groups.iter_mut().find(|(named, _)| *named == image) {
            Some((_, tags)) => tags.push(tag.to_string()),
            None => groups.push((image, vec![tag.to_string()])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: &str, image: &str) -> SnapshotInfo {
        SnapshotInfo {
            tag: tag.into(),
            image: image.into(),
            created: 0,
            message: String::new(),
            size_added: None,
            current: false,
            interrupted: false,
        }
    }

    #[test]
    fn tags_are_pushed_once_per_image_newest_first_with_latest_beside_the_current_one() {
        let history = [entry("s3", "c"), entry("s2", "b"), entry("s2-again", "b"), entry("s1", "a")];
        let sent: Vec<&SnapshotInfo> = history.iter().collect();
        let groups = tags_by_image(&sent, &history[1]);
        let expected = [("c", vec!["s3"]), ("b", vec!["s2", "s2-again", "latest"]), ("a", vec!["s1"])];
        assert_eq!(groups, expected.map(|(image, tags)| (image, tags.into_iter().map(String::from).collect())));
        assert_eq!(tags_by_image(&[&history[0]], &history[0]), [("c", vec!["s3".into(), "latest".into()])]);
    }
}
