//! Building the folder's image from its `[build]` files (the ones `jenv export` writes): for
//! `jenv up` when neither a snapshot nor the registry has the image, `jenv rebuild`, and
//! `jenv export --check`. Only the context folder goes to the engine, never the whole project.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};

use crate::clock;
use crate::engine::build::{BuildEvent, BuildFailed, BuildRequest};
use crate::engine::helper::with_helper;
use crate::error::{Hinted, hinted};
use crate::manifest::FILE_NAME;
use crate::manifest::build::BuildSpec;
use crate::notebook::Notebook;
use crate::notebook::image::pull_if_published;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::snapshot::snapshot_config;

/// The build argument naming where the Dockerfile's files are in the build context (`jenv export`'s
/// Dockerfile defaults it to its folder, as repo2docker sends the whole repository).
pub const FILES_ARG: &str = "JENV_FILES";
/// The package index settings a build takes from jenv's environment, as build arguments.
pub const PIP_ARGS: [&str; 4] = ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"];

/// For `jenv up`, before the notebook starts: a folder with `[build]` and no notebook, whose
/// image is neither here nor in the registry its repository names, gets it built from those
/// files (a clone with exported files starts with `jenv up` alone). Returns the record of the
/// snapshot it built, if it built one.
pub async fn build_if_missing(nb: &Notebook) -> Result<Option<PackageRecord>> {
    if nb.project.manifest.build.is_none() || !needs_image(nb).await? {
        return Ok(None);
    }
    // Under the folder's lock, so two `jenv up` at once build it once.
    let _lock = nb.lock("jenv up").await?;
    if !needs_image(nb).await? || pull_if_published(nb).await? {
        return Ok(None);
    }
    build_from_files(nb, "built").await.map(Some)
}

/// Whether a new notebook would have no image of the folder's own to start from.
async fn needs_image(nb: &Notebook) -> Result<bool> {
    let own = format!("{}:latest", nb.project.manifest.repository);
    Ok(nb.find().await?.is_none() && nb.engine.inspect_image(&own).await?.is_none())
}

/// Builds the folder's image from `[build]` as snapshot `<time>-<suffix>` and makes it
/// `latest`, so `jenv up` starts from it; returns its record (the lock's packages, which the
/// exported files install). The caller holds the folder's lock.
pub async fn build_from_files(nb: &Notebook, suffix: &str) -> Result<PackageRecord> {
    let Some(spec) = nb.project.manifest.build.clone() else {
        hinted!("{FILE_NAME} has no [build] table"; "add a [build] table, or run `jenv export`");
    };
    let manifest = &nb.project.manifest;
    let mut record = record::read_folder_record(&nb.project.folder)?
        .unwrap_or_else(|| PackageRecord { base_image: manifest.image.clone(), ..Default::default() });
    record.created = clock::now_secs();
    record.snapshot = format!("{}-{suffix}", clock::tag(record.created));
    record.message = format!("built from {}", spec.dockerfile);
    record.size_added = 0;
    let built = build_image(nb, &spec, &format!("{}:{}", manifest.repository, record.snapshot), HashMap::new()).await?;
    let image = label_snapshot(nb, &built, &record).await?;
    nb.engine.tag(&image, &manifest.repository, "latest").await?;
    RecordStore::new(&nb.state, nb.name()).save(&record)?;
    Ok(record)
}

/// Gives a built image the labels of a snapshot (this machine's state folder among them) by
/// committing a container of it that never runs: labels given to the build would stay in the
/// image's history, which a push sends.
async fn label_snapshot(nb: &Notebook, built: &str, record: &PackageRecord) -> Result<String> {
    let config = nb.engine.inspect_image(built).await?.map(|i| i.config).context("the built image vanished")?;
    let config = snapshot_config(nb, config, &record.snapshot, record.created, &record.message, Some(record));
    let repository = &nb.project.manifest.repository;
    with_helper(&nb.engine, &nb.helper_spec(built, "label"), async |name: &str| {
        nb.engine.commit(name, repository, &record.snapshot, config, false).await
    })
    .await
}

/// Builds `spec` as `tag` with `labels`, its steps shown on the console, and returns the image
/// ID. The package index settings in jenv's environment go as build arguments.
pub async fn build_image(
    nb: &Notebook,
    spec: &BuildSpec,
    tag: &str,
    labels: HashMap<String, String>,
) -> Result<String> {
    let folder = &nb.project.folder;
    let context = folder.join(&spec.context);
    let dockerfile = folder.join(&spec.dockerfile);
    if !context.is_dir() || !dockerfile.is_file() {
        hinted!(
            "[build] names {} in {}, which is not there",
            if context.is_dir() { &spec.dockerfile } else { &spec.context },
            folder.display();
            "run `jenv export` to write them, or fix [build] in .jupyter-env"
        );
    }
    let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
    let args = build_args(&text, |name| std::env::var(name).ok());
    for name in with_credentials(&args) {
        nb.console.warn(format_args!(
            "{name} holds a user name or password: build arguments stay readable in the image's history (`docker history`)"
        ));
    }
    let request = BuildRequest {
        context,
        dockerfile: spec.dockerfile_in_context(),
        tag: tag.to_string(),
        labels,
        host_network: needs_host_network(&args),
        args,
    };
    let steps = nb.console.steps(&format!("building {tag} from {} (context {})", spec.dockerfile, spec.context));
    let built = nb
        .engine
        .build(&request, |event| match event {
            BuildEvent::Step(line) => steps.step(&line),
            BuildEvent::Output(_) => steps.output(),
        })
        .await;
    steps.finish();
    built.map_err(|err| match err.downcast::<BuildFailed>() {
        Ok(failed) => Hinted::new(
            format!("cannot build {tag} from {}: {failed}", spec.dockerfile),
            format!(
                "fix {}, or make the package indexes it needs reachable ({}), then run the command again",
                spec.dockerfile,
                PIP_ARGS.join(", ")
            ),
        )
        .into(),
        Err(other) => other,
    })
}

/// The build arguments: the package index settings `lookup` (the environment) has, and where
/// the Dockerfile's files are when it asks (`ARG JENV_FILES`): the context is its folder.
fn build_args(dockerfile: &str, lookup: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut args: BTreeMap<String, String> = PIP_ARGS
        .iter()
        .filter_map(|name| lookup(name).filter(|v| !v.is_empty()).map(|v| (name.to_string(), v)))
        .collect();
    if dockerfile.lines().any(|l| l.trim().strip_prefix("ARG ").is_some_and(|a| a.trim().starts_with(FILES_ARG))) {
        args.insert(FILES_ARG.to_string(), ".".to_string());
    }
    args
}

/// A URL without its user and password, for comments and messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority.len()..]),
        None => url.to_string(),
    }
}

/// The index settings that carry credentials (`https://user:token@host/...`).
fn with_credentials(args: &BTreeMap<String, String>) -> Vec<&str> {
    args.iter()
        .filter(|(name, value)| name.starts_with("PIP_") && value.split_whitespace().any(|v| redact(v) != v))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether an index setting names the engine host's loopback (a local mirror, a devpi), which
/// the build's steps reach only on the host's network.
fn needs_host_network(args: &BTreeMap<String, String>) -> bool {
    args.iter().filter(|(name, _)| name.starts_with("PIP_")).flat_map(|(_, v)| v.split_whitespace()).any(|value| {
        let host = value.split_once("://").map_or(value, |(_, rest)| rest);
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split('/').next().unwrap_or_default();
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default(),
        };
        host == "localhost" || host == "::1" || host.starts_with("127.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_settings_from_the_environment_become_build_arguments() {
        let env = |name: &str| match name {
            "PIP_INDEX_URL" => Some("http://127.0.0.1:3141/root/pypi/+simple/".to_string()),
            "PIP_TRUSTED_HOST" => Some(String::new()),
            "HOME" => Some("/root".to_string()),
            _ => None,
        };
        let args = build_args("FROM x\nARG JENV_FILES=binder\n", env);
        assert_eq!(
            args,
            BTreeMap::from([
                ("JENV_FILES".to_string(), ".".to_string()),
                ("PIP_INDEX_URL".to_string(), "http://127.0.0.1:3141/root/pypi/+simple/".to_string()),
            ])
        );
        assert!(needs_host_network(&args));
        assert!(build_args("FROM x\n", |_| None).is_empty(), "a Dockerfile of your own gets no JENV_FILES");
    }

    #[test]
    fn only_the_loopback_needs_the_host_network() {
        let one = |name: &str, value: &str| BTreeMap::from([(name.to_string(), value.to_string())]);
        for loopback in ["http://localhost:8080/simple", "https://u:p@127.0.0.2/simple", "http://[::1]:9/s"] {
            assert!(needs_host_network(&one("PIP_INDEX_URL", loopback)), "{loopback}");
        }
        assert!(needs_host_network(&one("PIP_EXTRA_INDEX_URL", "https://pypi.org/simple http://127.0.0.1:1/s")));
        assert!(needs_host_network(&one("PIP_TRUSTED_HOST", "127.0.0.1")));
        for elsewhere in ["https://pypi.org/simple", "/wheels", "http://mirror.local:3141/simple"] {
            assert!(!needs_host_network(&one("PIP_FIND_LINKS", elsewhere)), "{elsewhere}");
        }
        assert!(!needs_host_network(&one("JENV_FILES", "127.0.0.1")));
        assert_eq!(
            with_credentials(&one("PIP_INDEX_URL", "https://me:tok@mirror.example.org/simple")),
            ["PIP_INDEX_URL"]
        );
        assert!(with_credentials(&one("PIP_INDEX_URL", "http://127.0.0.1:1/simple")).is_empty());
    }

    #[test]
    fn passwords_leave_urls() {
        assert_eq!(redact("https://u:p@h.org/simple"), "https://***@h.org/simple");
        assert_eq!(redact("http://127.0.0.1:9/simple"), "http://127.0.0.1:9/simple");
        assert_eq!(redact("/local/wheels"), "/local/wheels");
    }
}
