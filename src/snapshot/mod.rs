//! Snapshots: committing the running notebook into the folder's own image, without caches,
//! runtime files or the mounted folder, and flattening long layer chains before overlayfs's limit.
pub mod build;
pub mod clock;
pub mod export;
pub mod exported;
pub mod history;
pub mod interrupted;
pub mod rebuild;
pub mod share;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bollard::models::{ImageConfig, ImageInspect};

use crate::packages::baseline::Listings;

use crate::engine::{ContainerSpec, EnvContainer, dockerfile_changes, label};
use crate::error::hinted;
use crate::notebook::Context;
use crate::packages::installers;
use crate::packages::record::{self, Record, Records};
use crate::packages::{self, Change, Manager};
use crate::snapshot::interrupted::{Pending, PendingSnapshot};
use crate::state::env_lock::OpLock;
use crate::ui::progress::Spinner;

/// overlay2 refuses images past 128 layers; flatten well before that.
const DEFAULT_FLATTEN_LAYERS: usize = 100;
/// Commits tried before giving up on a notebook whose packages keep changing.
const COMMIT_ATTEMPTS: usize = 3;
const INSTALLER_POLL: Duration = Duration::from_millis(250);
const DEFAULT_INSTALLER_WAIT: Duration = Duration::from_secs(300);

/// How long a snapshot waits for an install in the notebook: `JENV_SNAPSHOT_WAIT` seconds, else 5 minutes.
fn installer_wait() -> Duration {
    crate::manifest::user_config::seconds_from_env("JENV_SNAPSHOT_WAIT", DEFAULT_INSTALLER_WAIT)
}

#[derive(Debug)]
pub struct Snapshot {
    pub tag: String,
    pub image: String,
    pub size_added: i64,
    /// How long the engine took to commit; the notebook kept running meanwhile.
    pub committing: Duration,
    pub total: Duration,
    pub layers: usize,
    pub flattened: bool,
    pub changes: Vec<Change>,
}

/// The layer count at which a snapshot is flattened: `JENV_FLATTEN_LAYERS`, else the default.
pub fn flatten_threshold() -> usize {
    std::env::var("JENV_FLATTEN_LAYERS").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_FLATTEN_LAYERS)
}

impl Context {
    /// Commits the running notebook as a new tag of the folder's repository and moves `latest`
    /// to it, so the next `jenv up` starts from it.
    pub async fn snapshot(&self, message: &str, force_flatten: bool) -> Result<Snapshot> {
        let op = self.op_lock("jenv snapshot").await?;
        self.snapshot_locked(&op, message, force_flatten).await
    }

    /// [`Context::snapshot`] for a caller that already holds the folder's operation lock.
    pub async fn snapshot_locked(&self, _op: &OpLock, message: &str, force_flatten: bool) -> Result<Snapshot> {
        let started = Instant::now();
        let container = self.require_running(self.container().await?)?;
        let (baseline, before) = self.baseline_packages(&container).await?;

        let parent = self.engine.inspect_image(&container.image_id).await?.context("the notebook's image is gone")?;
        let repository = &self.project.manifest.repository;
        let created = clock::now_secs();
        let tag = self.free_tag(created).await?;
        let latest = self.engine.inspect_image(&format!("{repository}:latest")).await?.and_then(|i| i.id);
        let mut pending = PendingSnapshot {
            tag: tag.clone(),
            pid: std::process::id(),
            container: container.id.clone(),
            parent: container.image_id.clone(),
            latest,
            listing: String::new(),
            image: None,
            interrupted: false,
        };
        let baseline_record = self.record_of(&baseline).await?;
        // The record of what the image holds, from the package listing taken as it commits; it
        // travels in the image as a label, so a pulled snapshot says what it holds.
        let record_at = |listing: &str| {
            let now = self.parse(listing);
            let changes = packages::compare(&before, &now);
            let mut record = baseline_record.clone();
            record.apply(&changes, |name, version| {
                let url = now.get(&(Manager::Pip, name.to_string())).and_then(|f| f.direct_url.clone());
                url.map_or_else(|| format!("{name}=={version}"), |url| format!("{name} @ {url}"))
            });
            record.snapshot = tag.clone();
            record.created = created;
            record.message = message.to_string();
            // Known only once committed; the label never carries the parent's figure.
            record.size_added = 0;
            (record, changes)
        };
        let parent_config = parent.config.clone().unwrap_or_default();
        let config_at = |listing: &str| {
            let (record, _) = record_at(listing);
            self.snapshot_config(parent_config.clone(), &tag, created, message, Some(&record))
        };
        let (listing, image, committing) =
            self.commit_between_installs(&container, repository, &mut pending, config_at).await?;
        let (mut record, changes) = record_at(&listing);
        let config = config_at(&listing);

        let committed = self.engine.inspect_image(&image).await?.context("the snapshot image vanished")?;
        // The commit's own layer: what this snapshot stores beyond the image the notebook runs.
        let size_added = committed.size.unwrap_or(0) - parent.size.unwrap_or(0);
        let mut layers = layer_count(&committed);
        let flattened = force_flatten || layers >= flatten_threshold();
        let image = if flattened { self.flatten(&image, &tag, &config).await? } else { image };
        if flattened {
            layers = 1;
        }
        self.engine.tag(&image, repository, "latest").await?;

        record.size_added = size_added;
        Records::new(&self.state, self.env_name()).save(&record)?;
        record::write_lock(&self.project.folder, &record)?;
        Listings::new(&self.state).save(&image, &listing)?;
        self.update_record(|r| r.baseline = Some(image.clone()))?;
        // Last: until this note is gone, the next command can finish what a kill left.
        Pending::new(&self.state, self.env_name()).remove(&tag)?;
        Ok(Snapshot { tag, image, size_added, committing, total: started.elapsed(), layers, flattened, changes })
    }

    /// Commits the running notebook without pausing it (with the config `config_at` gives for
    /// the package listing at that moment), when no package manager is at work in it: waits
    /// while one runs, and if one ran during the commit (the package listing moved, or an
    /// installer is running now), drops that image and commits again. Each commit is noted in
    /// `pending` first (see interrupted.rs). Returns the package listing the image holds, its ID
    /// and how long the commit took.
    async fn commit_between_installs(
        &self,
        container: &EnvContainer,
        repository: &str,
        pending: &mut PendingSnapshot,
        config_at: impl Fn(&str) -> ImageConfig,
    ) -> Result<(String, String, Duration)> {
        let notes = Pending::new(&self.state, self.env_name());
        for _ in 0..COMMIT_ATTEMPTS {
            self.wait_for_installers(container).await?;
            let listing = self.list_packages(container, true).await?;
            pending.listing = listing.clone();
            pending.image = None;
            notes.save(pending)?;
            let started = Instant::now();
            let spinner = Spinner::new("committing the notebook (it keeps running)");
            let committed =
                self.engine.commit(&container.id, repository, &pending.tag, config_at(&listing), false).await;
            spinner.finish();
            let image = match committed {
                Ok(image) => image,
                Err(err) => {
                    // The engine refused it: nothing landed.
                    notes.remove(&pending.tag)?;
                    return Err(err);
                }
            };
            pending.image = Some(image.clone());
            notes.save(pending)?;
            let committing = started.elapsed();
            let processes = self.engine.processes(&container.id).await?;
            if installers::first_installer(&processes).is_none()
                && self.parse(&self.list_packages(container, false).await?) == self.parse(&listing)
            {
                return Ok((listing, image, committing));
            }
            eprintln!("packages changed while the snapshot was committing; committing again");
            self.engine.remove_image(&image).await?;
        }
        notes.remove(&pending.tag)?;
        hinted!(
            "let the installs in the notebook finish, then run `jenv snapshot` again",
            "packages kept changing in the notebook during {COMMIT_ATTEMPTS} commits; no snapshot was taken"
        )
    }

    /// Waits (saying so) while pip, conda, mamba or apt runs in the container; refuses after a while.
    async fn wait_for_installers(&self, container: &EnvContainer) -> Result<()> {
        let deadline = Instant::now() + installer_wait();
        let mut spinner: Option<Spinner> = None;
        loop {
            let processes = self.engine.processes(&container.id).await?;
            let Some(running) = installers::first_installer(&processes) else { break };
            if Instant::now() >= deadline {
                if let Some(spinner) = spinner.take() {
                    spinner.finish();
                }
                hinted!(
                    "wait for it to finish (or stop it), then run `jenv snapshot` again; JENV_SNAPSHOT_WAIT=SECONDS waits longer",
                    "`{running}` is still running in the notebook after {}s; a snapshot now could hold a half-done install, so none was taken",
                    installer_wait().as_secs()
                );
            }
            if spinner.is_none() {
                spinner = Some(Spinner::new(&format!("waiting for `{running}` to finish before the snapshot")));
            }
            tokio::time::sleep(INSTALLER_POLL).await;
        }
        if let Some(spinner) = spinner {
            spinner.finish();
        }
        Ok(())
    }

    /// The record of the baseline image: its snapshot's record, or an empty record on the base.
    async fn record_of(&self, image: &str) -> Result<Record> {
        let labels =
            self.engine.inspect_image(image).await?.and_then(|i| i.config).and_then(|c| c.labels).unwrap_or_default();
        let fresh = Record { base_image: self.project.manifest.image.clone(), ..Default::default() };
        let Some(tag) = labels.get(label::SNAPSHOT_TAG) else { return Ok(fresh) };
        if let Some(record) = Records::new(&self.state, self.env_name()).load(tag)? {
            return Ok(record);
        }
        // A snapshot pulled from a registry carries its record.
        if let Some(text) = labels.get(label::RECORD).filter(|text| !text.is_empty()) {
            return Record::parse(text, std::path::Path::new(label::RECORD));
        }
        match record::read_lock(&self.project.folder)? {
            Some(record) if &record.snapshot == tag => Ok(record),
            _ => {
                eprintln!("warning: no record of snapshot {tag}; the new record lists only changes made since it");
                Ok(fresh)
            }
        }
    }

    /// A tag for a snapshot taken at `created`, unique even for several snapshots in one second.
    async fn free_tag(&self, created: u64) -> Result<String> {
        let base = clock::tag(created);
        let repository = &self.project.manifest.repository;
        for n in 0.. {
            let tag = if n == 0 { base.clone() } else { format!("{base}-{n}") };
            if self.engine.inspect_image(&format!("{repository}:{tag}")).await?.is_none() {
                return Ok(tag);
            }
        }
        unreachable!("an unbounded range always yields")
    }

    pub(crate) fn snapshot_config(
        &self,
        mut config: ImageConfig,
        tag: &str,
        created: u64,
        message: &str,
        record: Option<&Record>,
    ) -> ImageConfig {
        let labels = config.labels.get_or_insert_with(HashMap::new);
        labels.insert(label::MANAGED.into(), "true".into());
        labels.insert(label::NAME.into(), self.env_name().into());
        // Which state folder made it, for clean-up by label; `jenv push` blanks it (share.rs).
        labels.insert(label::HOME.into(), self.state.root.display().to_string());
        labels.insert(label::SNAPSHOT_TAG.into(), tag.into());
        labels.insert(label::SNAPSHOT_CREATED.into(), created.to_string());
        labels.insert(label::SNAPSHOT_MESSAGE.into(), message.into());
        if let Some(record) = record {
            labels.insert(label::RECORD.into(), record.to_toml());
        }
        // The engine merges the container's labels into the commit; blank the container-only
        // ones so no run-time detail (ports, user, settings) is kept in the image, and the
        // folder, which nothing reads from an image (history goes by name and repository).
        for key in label::CONTAINER_ONLY.into_iter().chain([label::FOLDER]) {
            labels.insert(key.into(), String::new());
        }
        config
    }

    /// Squashes `image` into a single layer under the same tag, keeping its config, and returns
    /// the new image ID. The unflattened image is removed.
    pub async fn flatten(&self, image: &str, tag: &str, config: &ImageConfig) -> Result<String> {
        let helper = self.helper_spec(image, "flatten");
        self.engine.create(&helper).await?;
        let repository = &self.project.manifest.repository;
        let spinner = Spinner::new("flattening the snapshot into one layer");
        let imported = self.engine.import_filesystem(&helper.name, repository, tag, dockerfile_changes(config)).await;
        spinner.finish();
        self.engine.remove(&helper.name).await?;
        imported?;
        let reference = format!("{repository}:{tag}");
        let flat =
            self.engine.inspect_image(&reference).await?.and_then(|i| i.id).context("the flattened image vanished")?;
        if flat != image {
            self.engine.remove_image(image).await?;
        }
        Ok(flat)
    }

    /// A short-lived container that is never listed as an environment.
    pub fn helper_spec(&self, image: &str, purpose: &str) -> ContainerSpec {
        let labels = HashMap::from([
            (label::MANAGED.to_string(), label::HELPER.to_string()),
            (label::HOME.to_string(), self.state.root.display().to_string()),
        ]);
        ContainerSpec {
            name: format!("{}-{purpose}-{}", self.project.container_name(), std::process::id()),
            image: image.to_string(),
            user: String::new(),
            env: Vec::new(),
            labels,
            binds: Vec::new(),
            working_dir: String::new(),
            ports: Default::default(),
            tmpfs: vec!["/tmp".to_string()],
            entrypoint: Some(vec!["sleep".to_string(), "infinity".to_string()]),
            cmd: None,
            limits: Default::default(),
        }
    }
}

pub fn layer_count(image: &ImageInspect) -> usize {
    image.root_fs.as_ref().and_then(|r| r.layers.as_ref()).map_or(0, Vec::len)
}
