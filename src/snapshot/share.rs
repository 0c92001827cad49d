//! Sharing a folder's environment through the registry its manifest's `repository` names:
//! `jenv push` sends snapshots there, `jenv pull` (and `jenv up` on a machine without the image)
//! fetches the one the folder's `.jupyter-env.lock` names. Each snapshot carries its record as a
//! label, so the receiving side knows what it holds; what a push sends is the environment, never
//! this machine's paths (folder, state folder, home, user name), which stay in local labels and state.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use bollard::auth::DockerCredentials;
use serde::Serialize;

use crate::engine::{ContainerSpec, Transfer, label};
use crate::engine::{reference, registry};
use crate::error::{Hinted, hinted};
use crate::notebook::Context;
use crate::packages::record::{self, Record, Records};
use crate::snapshot::history::Entry;
use crate::ui::progress::Spinner;

#[derive(Debug, Serialize)]
pub struct Pushed {
    pub repository: String,
    /// The snapshot the folder is on (also pushed as `latest`).
    pub current: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Pulled {
    /// `repository:tag` as pulled.
    pub image: String,
    /// The snapshot tag, from the image's own label.
    pub snapshot: Option<String>,
}

impl Context {
    /// The registry host of the folder's repository, or an error saying how to name one.
    fn registry_host(&self) -> Result<&str> {
        let repository = &self.project.manifest.repository;
        match registry::host_of(repository) {
            Some(host) => Ok(host),
            None => Err(Hinted::new(
                format!("the repository `{repository}` names no registry, so there is nowhere to push to or pull from"),
                format!(
                    "name one in .jupyter-env, e.g. `repository = \"registry.example.org:5000/team/{}\"`, then take a snapshot",
                    self.env_name()
                ),
            )
            .into()),
        }
    }

    /// Pushes the current snapshot and `latest` (with `all`, every snapshot of the folder), each
    /// as a copy without this machine's details (see [`Context::shareable_copy`]).
    pub async fn push(&self, all: bool) -> Result<Pushed> {
        let host = self.registry_host()?.to_string();
        // The tags name the copies while they go: no snapshot or `up` may move or use them meanwhile.
        let _op = self.op_lock("jenv push").await?;
        let repository = self.project.manifest.repository.clone();
        let history = self.history().await?;
        let Some(current) = history.iter().find(|e| e.current) else {
            hinted!("take one with `jenv snapshot` first", "this folder has no snapshot to push");
        };
        // An interrupted snapshot is nobody's to start from.
        let sent: Vec<&Entry> = if all { history.iter().filter(|e| !e.interrupted).collect() } else { vec![current] };
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
    /// nothing of this machine: the labels holding its paths ([`label::HOST`]) blanked. It is
    /// committed from a helper container that never carried them, because an engine's commit
    /// also records the committed container's own config (Docker's `container_config`), which
    /// for the snapshot was the notebook's, with its folder, state folder and mount paths.
    /// Commits of an unchanged container add no layer. Returns the copy's ID, or `None` for an
    /// image that holds nothing of this machine: every image jenv commits here carries its
    /// `jenv.home` (snapshot.rs), so one without it is such a copy already (a pulled snapshot).
    async fn shareable_copy(&self, image: &str, tag: &str) -> Result<Option<String>> {
        let original = self.engine.inspect_image(image).await?.context("the snapshot image vanished")?;
        let mut config = original.config.unwrap_or_default();
        let labels = config.labels.clone().unwrap_or_default();
        if label::HOST.iter().all(|key| labels.get(*key).is_none_or(String::is_empty)) {
            return Ok(None);
        }
        let blank: HashMap<String, String> =
            label::HOST.iter().chain(&label::CONTAINER_ONLY).map(|key| (key.to_string(), String::new())).collect();
        config.labels.get_or_insert_with(HashMap::new).extend(blank.clone());
        // The engine gives a container its image's labels unless it names them itself.
        let mut labels = blank;
        labels.insert(label::MANAGED.to_string(), label::HELPER.to_string());
        let helper = ContainerSpec {
            name: format!("{}-share-{}", self.project.container_name(), std::process::id()),
            image: image.to_string(),
            user: String::new(),
            env: Vec::new(),
            labels,
            binds: Vec::new(),
            working_dir: String::new(),
            ports: Default::default(),
            tmpfs: Vec::new(),
            entrypoint: None,
            cmd: None,
            limits: Default::default(),
        };
        let repository = &self.project.manifest.repository;
        let spinner = Spinner::new(&format!("copying {tag} without this machine's paths"));
        self.engine.create(&helper).await?;
        let committed = self.engine.commit(&helper.name, repository, tag, config, false).await;
        let removed = self.engine.remove(&helper.name).await;
        spinner.finish();
        let copy = committed?;
        removed?;
        Ok(Some(copy))
    }

    /// Names `copy` by every one of `tags` and pushes them.
    async fn push_tags(
        &self,
        copy: &str,
        tags: &[String],
        host: &str,
        credentials: Option<DockerCredentials>,
    ) -> Result<()> {
        let repository = &self.project.manifest.repository;
        for tag in tags {
            self.engine.tag(copy, repository, tag).await?;
        }
        for tag in tags {
            self.engine
                .push(repository, tag, credentials.clone())
                .await
                .map_err(|err| refused(host, repository, "push", err))?;
        }
        Ok(())
    }

    /// Points every tag of the folder's repository that names `copy` back at `original` (the
    /// same files, with this machine's labels), then removes the copy.
    async fn restore_tags(&self, copy: &str, original: &str) -> Result<()> {
        let repository = &self.project.manifest.repository;
        let named = self.engine.inspect_image(copy).await?.and_then(|i| i.repo_tags).unwrap_or_default();
        for tag in named.iter().filter_map(|t| reference::tag_in(t, repository)) {
            self.engine.tag(original, repository, &tag).await?;
        }
        self.engine.remove_image(copy).await?;
        Ok(())
    }

    /// Fetches the snapshot the folder's lock file names (else `latest`) and makes it the one
    /// `jenv up` starts from.
    pub async fn pull(&self) -> Result<Pulled> {
        let host = self.registry_host()?.to_string();
        let repository = &self.project.manifest.repository;
        let tag = record::read_lock(&self.project.folder)?.map_or_else(|| "latest".to_string(), |r| r.snapshot);
        let image = format!("{repository}:{tag}");
        let credentials = registry::credentials_for(repository)?;
        self.engine.pull_with(&image, credentials).await.map_err(|err| refused(&host, &image, "pull", err))?;
        let snapshot = self.adopt(&image).await?;
        Ok(Pulled { image, snapshot })
    }

    /// For `jenv up` when the folder's image is not here: pulls it when the repository names a
    /// registry. `Ok(false)` when there is nothing to pull. A folder whose lock file names a
    /// snapshot fails on a refused or unreachable registry rather than quietly starting from the
    /// base image; one without a lock has nothing it expects, so it says why and starts fresh.
    pub async fn pull_if_published(&self) -> Result<bool> {
        let Ok(host) = self.registry_host() else { return Ok(false) };
        let expected = record::read_lock(&self.project.folder)?;
        let base = match &self.project.manifest.build {
            Some(build) => format!("the files [build] names ({})", build.dockerfile),
            None => format!("the base image {}", self.project.manifest.image),
        };
        match self.pull().await {
            Ok(_) => Ok(true),
            Err(err) if err.downcast_ref::<NotPublished>().is_some() => {
                let lock_only = expected.is_some() && self.project.manifest.build.is_none();
                let rebuild = if lock_only { "; `jenv rebuild` recreates it from .jupyter-env.lock" } else { "" };
                eprintln!("{err}\nstarting from {base}{rebuild}");
                Ok(false)
            }
            Err(err) if expected.is_none() => {
                eprintln!("note: no snapshot fetched from {host} ({err:#}); starting from {base}");
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Makes a pulled snapshot the folder's current one: tagged `latest`, its record kept in
    /// jenv's state. Returns its snapshot tag.
    async fn adopt(&self, image: &str) -> Result<Option<String>> {
        let repository = &self.project.manifest.repository;
        self.engine.tag(image, repository, "latest").await?;
        let pulled = self.engine.inspect_image(image).await?;
        let size = pulled.as_ref().and_then(|i| i.size);
        let labels = pulled.and_then(|i| i.config).and_then(|c| c.labels).unwrap_or_default();
        if let Some(text) = labels.get(label::RECORD).filter(|t| !t.is_empty()) {
            let mut record = Record::parse(text, std::path::Path::new(image))?;
            // What it adds to the base image, when the base is here to compare with.
            let base = self.engine.inspect_image(&self.project.manifest.image).await?.and_then(|i| i.size);
            if let (Some(size), Some(base)) = (size, base) {
                record.size_added = size - base;
            }
            Records::new(&self.state, self.env_name()).save(&record)?;
        }
        Ok(labels.get(label::SNAPSHOT_TAG).cloned())
    }
}

/// The tags of `sent` grouped by the image they name, in `sent`'s order (newest first);
/// `latest` goes with `current`'s image. One copy per image is pushed under all its tags.
fn tags_by_image<'a>(sent: &[&'a Entry], current: &'a Entry) -> Vec<(&'a str, Vec<String>)> {
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

/// The registry has nothing under that name: not an error for `jenv up`, which starts fresh.
#[derive(Debug)]
struct NotPublished(String);

impl std::fmt::Display for NotPublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotPublished {}

/// A failed pull or push in jenv's words: a login to make, a missing image, or the engine's reason.
fn refused(host: &str, image: &str, verb: &str, err: Transfer) -> anyhow::Error {
    match err {
        Transfer::Unauthorized(message) => {
            Hinted::new(format!("{host} refused to let you {verb} {image}: {message}"), registry::login_hint(image))
                .into()
        }
        Transfer::NotFound(message) if verb == "pull" => {
            NotPublished(format!("{host} has no {image} ({message}); push it from where it was made with `jenv push`"))
                .into()
        }
        other => Hinted::new(
            format!("cannot {verb} {image}: {}", other.message()),
            format!("check that {host} is reachable (`docker {verb} {image}` tells the same), then run again"),
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: &str, image: &str) -> Entry {
        Entry {
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
        let sent: Vec<&Entry> = history.iter().collect();
        let groups = tags_by_image(&sent, &history[1]);
        let expected = [("c", vec!["s3"]), ("b", vec!["s2", "s2-again", "latest"]), ("a", vec!["s1"])];
        assert_eq!(groups, expected.map(|(image, tags)| (image, tags.into_iter().map(String::from).collect())));
        assert_eq!(tags_by_image(&[&history[0]], &history[0]), [("c", vec!["s3".into(), "latest".into()])]);
    }
}
