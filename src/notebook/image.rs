//! Which image a new container starts from: the folder's own snapshot, pulled from the
//! registry its manifest's `repository` names when it is published there and missing here, else
//! the base image. `jenv pull` fetches the snapshot the folder's `.jupyter-env.lock` names the
//! same way; a pushed snapshot carries its record as a label, so this side knows what it holds.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::labels::SnapshotLabels;
use crate::engine::registry;
use crate::engine::transfer::TransferError;
use crate::engine::types::ImageInfo;
use crate::error::Hinted;
use crate::manifest::Project;
use crate::notebook::Notebook;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::ui::Console;

#[derive(Debug, Serialize)]
pub struct Pulled {
    /// `repository:tag` as pulled.
    pub image: String,
    /// The snapshot tag, from the image's own label.
    pub snapshot: Option<String>,
}

/// The folder's own committed image when it has one (pulled from its registry if it is
/// published there; a folder with `[build]` files has it built before, by
/// `snapshot::build::build_if_missing`), else the base image (pulled if missing).
pub async fn start_image(nb: &Notebook) -> Result<(String, ImageInfo)> {
    let own = format!("{}:latest", nb.project.manifest.repository);
    if let Some(inspected) = nb.engine.inspect_image(&own).await? {
        return Ok((own, inspected));
    }
    // Another machine may have pushed the folder's snapshot to the registry it names.
    if pull_if_published(nb).await?
        && let Some(inspected) = nb.engine.inspect_image(&own).await?
    {
        return Ok((own, inspected));
    }
    let base = nb.project.manifest.image.clone();
    let inspected = match nb.engine.inspect_image(&base).await? {
        Some(inspected) => inspected,
        None => {
            pull_base(&nb.engine, &base, &nb.console).await?;
            nb.engine.inspect_image(&base).await?.context("the pulled image vanished")?
        }
    };
    Ok((base, inspected))
}

/// Pulls a base image (Docker Hub or any registry), with the user's credentials for it.
pub async fn pull_base(engine: &Engine, image: &str, console: &Console) -> Result<()> {
    let credentials = registry::credentials_for(image)?;
    engine.pull(image, credentials, console).await.map_err(|err| {
        Hinted::new(
            format!("cannot pull {image}: {}", err.message()),
            match &err {
                TransferError::Unauthorized(_) => registry::login_hint(image),
                _ => "check the image name, or make it available offline (`docker load`, `docker build`) and run again"
                    .to_string(),
            },
        )
        .into()
    })
}

/// The registry host of the folder's repository, or an error saying how to name one.
pub fn registry_host(project: &Project) -> Result<&str> {
    let repository = &project.manifest.repository;
    match registry::host_of(repository) {
        Some(host) => Ok(host),
        None => Err(Hinted::new(
            format!("the repository `{repository}` names no registry, so there is nowhere to push to or pull from"),
            format!(
                "name one in .jupyter-env, e.g. `repository = \"registry.example.org:5000/team/{}\"`, then take a snapshot",
                project.manifest.name
            ),
        )
        .into()),
    }
}

/// Fetches the snapshot the folder's lock file names (else `latest`) and makes it the one
/// `jenv up` starts from.
pub async fn pull(nb: &Notebook) -> Result<Pulled> {
    let host = registry_host(&nb.project)?.to_string();
    let repository = &nb.project.manifest.repository;
    let tag = record::read_folder_record(&nb.project.folder)?.map_or_else(|| "latest".to_string(), |r| r.snapshot);
    let image = format!("{repository}:{tag}");
    let credentials = registry::credentials_for(repository)?;
    nb.engine.pull(&image, credentials, &nb.console).await.map_err(|err| transfer_error(&host, &image, "pull", err))?;
    let snapshot = adopt(nb, &image).await?;
    Ok(Pulled { image, snapshot })
}

/// For `jenv up` when the folder's image is not here: pulls it when the repository names a
/// registry. `Ok(false)` when there is nothing to pull. A folder whose lock file names a
/// snapshot fails on a refused or unreachable registry rather than quietly starting from the
/// base image (or its `[build]` files); one without a lock has nothing it expects, so it says
/// why and starts fresh.
pub async fn pull_if_published(nb: &Notebook) -> Result<bool> {
    let Ok(host) = registry_host(&nb.project) else { return Ok(false) };
    let expected = record::read_folder_record(&nb.project.folder)?;
    let manifest = &nb.project.manifest;
    let fresh = match &manifest.build {
        Some(build) => format!("the files [build] names ({})", build.dockerfile),
        None => format!("the base image {}", manifest.image),
    };
    match pull(nb).await {
        Ok(_) => Ok(true),
        Err(err) if err.downcast_ref::<NotPublished>().is_some() => {
            let lock_only = expected.is_some() && manifest.build.is_none();
            let rebuild = if lock_only { "; `jenv rebuild` recreates it from .jupyter-env.lock" } else { "" };
            nb.console.note(format_args!("{err}\nstarting from {fresh}{rebuild}"));
            Ok(false)
        }
        Err(err) if expected.is_none() => {
            nb.console.note(format_args!("note: no snapshot fetched from {host} ({err:#}); starting from {fresh}"));
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Makes a pulled snapshot the folder's current one: tagged `latest`, its record kept in
/// jenv's state. Returns its snapshot tag.
async fn adopt(nb: &Notebook, image: &str) -> Result<Option<String>> {
    let repository = &nb.project.manifest.repository;
    nb.engine.tag(image, repository, "latest").await?;
    let pulled = nb.engine.inspect_image(image).await?;
    let size = pulled.as_ref().and_then(|i| i.size);
    let labels = pulled.map(|i| SnapshotLabels::from_map(&i.labels)).unwrap_or_default();
    if let Some(text) = &labels.record {
        let mut record = PackageRecord::parse(text, std::path::Path::new(image))?;
        // What it adds to the base image, when the base is here to compare with.
        let base = nb.engine.inspect_image(&nb.project.manifest.image).await?.and_then(|i| i.size);
        if let (Some(size), Some(base)) = (size, base) {
            record.size_added = size - base;
        }
        RecordStore::new(&nb.state, nb.name()).save(&record)?;
    }
    Ok(Some(labels.tag).filter(|tag| !tag.is_empty()))
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

/// A failed pull or push of a snapshot in jenv's words: a login to make, a missing image, or
/// the engine's reason.
pub fn transfer_error(host: &str, image: &str, verb: &str, err: TransferError) -> anyhow::Error {
    match err {
        TransferError::Unauthorized(message) => {
            Hinted::new(format!("{host} refused to let you {verb} {image}: {message}"), registry::login_hint(image))
                .into()
        }
        TransferError::NotFound(message) if verb == "pull" => {
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
