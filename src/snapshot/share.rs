//! Sharing a folder's environment through the registry its manifest's `repository` names:
//! `jenv push` sends snapshots there, `jenv pull` (and `jenv up` on a machine without the image)
//! fetches the one the folder's `.jupyter-env.lock` names. Each snapshot carries its record as a
//! label, so the receiving side knows what it holds.

use anyhow::Result;
use serde::Serialize;

use crate::engine::registry;
use crate::engine::{Transfer, label};
use crate::error::{Hinted, hinted};
use crate::notebook::Context;
use crate::packages::record::{self, Record, Records};

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

    /// Pushes the current snapshot and `latest` (with `all`, every snapshot of the folder).
    pub async fn push(&self, all: bool) -> Result<Pushed> {
        let host = self.registry_host()?.to_string();
        let repository = self.project.manifest.repository.clone();
        let history = self.history().await?;
        let Some(current) = history.iter().find(|e| e.current) else {
            hinted!("take one with `jenv snapshot` first", "this folder has no snapshot to push");
        };
        // An interrupted snapshot is nobody's to start from.
        let mut tags: Vec<String> = if all {
            history.iter().filter(|e| !e.interrupted).map(|e| e.tag.clone()).collect()
        } else {
            vec![current.tag.clone()]
        };
        tags.push("latest".to_string());
        let credentials = registry::credentials_for(&repository)?;
        for tag in &tags {
            self.engine
                .push(&repository, tag, credentials.clone())
                .await
                .map_err(|err| refused(&host, &repository, "push", err))?;
        }
        Ok(Pushed { repository, current: current.tag.clone(), tags })
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
        let base = &self.project.manifest.image;
        match self.pull().await {
            Ok(_) => Ok(true),
            Err(err) if err.downcast_ref::<NotPublished>().is_some() => {
                let rebuild =
                    if expected.is_some() { "; `jenv rebuild` recreates it from .jupyter-env.lock" } else { "" };
                eprintln!("{err}\nstarting from the base image {base}{rebuild}");
                Ok(false)
            }
            Err(err) if expected.is_none() => {
                eprintln!("note: no snapshot fetched from {host} ({err:#}); starting from the base image {base}");
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
