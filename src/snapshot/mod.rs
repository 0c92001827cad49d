//! Snapshots: committing the running notebook into the folder's own image, without caches,
//! runtime files or the mounted folder, and flattening long layer chains before overlayfs's limit.
pub mod clock;
pub mod history;
pub mod interrupted;
pub mod rebuild;
pub mod share;
pub mod stop;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::packages::baseline::Listings;

use crate::engine::helper::{self, with_helper};
use crate::engine::image_config::ImageConfig;
use crate::engine::labels::{self, SnapshotLabels};
use crate::engine::types::{Container, ContainerSpec};
use crate::error::hinted;
use crate::notebook::Notebook;
use crate::packages::installers;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::packages::{self, Change, Manager};
use crate::snapshot::interrupted::{Pending, PendingSnapshot};
use crate::state::env_lock::EnvLock;
use crate::ui::format::human_bytes;
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

impl Snapshot {
    /// What the snapshot took and added, in a line for the person who asked for it.
    pub fn summary(&self) -> String {
        format!(
            "snapshot {} added {} ({} package change{}); committed in {} ms while the notebook kept running, {} layer{}{}",
            self.tag,
            human_bytes(self.size_added),
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" },
            self.committing.as_millis(),
            self.layers,
            if self.layers == 1 { "" } else { "s" },
            if self.flattened { " (flattened)" } else { "" },
        )
    }
}

/// The layer count at which a snapshot is flattened: `JENV_FLATTEN_LAYERS`, else the default.
pub fn flatten_threshold() -> usize {
    crate::manifest::user_config::number_from_env("JENV_FLATTEN_LAYERS").unwrap_or(DEFAULT_FLATTEN_LAYERS)
}

impl Notebook {
    /// Commits the running notebook as a new tag of the folder's repository and moves `latest`
    /// to it, so the next `jenv up` starts from it.
    pub async fn snapshot(&self, message: &str, force_flatten: bool) -> Result<Snapshot> {
        let op = self.lock("jenv snapshot").await?;
        self.snapshot_locked(&op, message, force_flatten).await
    }

    /// [`Notebook::snapshot`] for a caller that already holds the folder's operation lock.
    pub async fn snapshot_locked(&self, _op: &EnvLock, message: &str, force_flatten: bool) -> Result<Snapshot> {
        let started = Instant::now();
        let container = self.check_running(self.find().await?)?;
        let (baseline, before) = self.packages().baseline(&container).await?;

        let parent = self.engine.inspect_image(&container.image_id).await?.context("the notebook's image is gone")?;
        let repository = &self.project.manifest.repository;
        let created = clock::now_secs();
        let tag = self.free_tag(created).await?;
        let latest = self.engine.inspect_image(&format!("{repository}:latest")).await?.map(|i| i.id);
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
            let now = self.packages().installed(listing);
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
        let parent_config = parent.config.clone();
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
        let mut layers = committed.layers;
        let flattened = force_flatten || layers >= flatten_threshold();
        let image = if flattened { self.flatten(&image, &tag, &config).await? } else { image };
        if flattened {
            layers = 1;
        }
        self.engine.tag(&image, repository, "latest").await?;

        record.size_added = size_added;
        RecordStore::new(&self.state, self.name()).save(&record)?;
        record::write_folder_record(&self.project.folder, &record)?;
        Listings::new(&self.state).save(&image, &listing)?;
        self.update_state(|r| r.baseline = Some(image.clone()))?;
        // Last: until this note is gone, the next command can finish what a kill left.
        Pending::new(&self.state, self.name()).remove(&tag)?;
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
        container: &Container,
        repository: &str,
        pending: &mut PendingSnapshot,
        config_at: impl Fn(&str) -> ImageConfig,
    ) -> Result<(String, String, Duration)> {
        let notes = Pending::new(&self.state, self.name());
        for _ in 0..COMMIT_ATTEMPTS {
            self.wait_for_installers(container).await?;
            let listing = self.packages().list(container, true).await?;
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
                && self.packages().installed(&self.packages().list(container, false).await?)
                    == self.packages().installed(&listing)
            {
                return Ok((listing, image, committing));
            }
            eprintln!("packages changed while the snapshot was committing; committing again");
            self.engine.remove_image(&image).await?;
        }
        notes.remove(&pending.tag)?;
        hinted!(
            "packages kept changing in the notebook during {COMMIT_ATTEMPTS} commits; no snapshot was taken";
            "let the installs in the notebook finish, then run `jenv snapshot` again"
        )
    }

    /// Waits (saying so) while pip, conda, mamba or apt runs in the container; refuses after a while.
    async fn wait_for_installers(&self, container: &Container) -> Result<()> {
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
                    "`{running}` is still running in the notebook after {}s; a snapshot now could hold a half-done install, so none was taken",
                    installer_wait().as_secs();
                    "wait for it to finish (or stop it), then run `jenv snapshot` again; JENV_SNAPSHOT_WAIT=SECONDS waits longer"
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
    async fn record_of(&self, image: &str) -> Result<PackageRecord> {
        let labels = self.engine.inspect_image(image).await?.map(|i| SnapshotLabels::from_map(&i.labels));
        let fresh = PackageRecord { base_image: self.project.manifest.image.clone(), ..Default::default() };
        let Some(SnapshotLabels { tag, record: carried, .. }) = labels.filter(|l| !l.tag.is_empty()) else {
            return Ok(fresh);
        };
        if let Some(record) = RecordStore::new(&self.state, self.name()).load(&tag)? {
            return Ok(record);
        }
        // A snapshot pulled from a registry carries its record.
        if let Some(text) = carried {
            return PackageRecord::parse(&text, std::path::Path::new(labels::RECORD));
        }
        match record::read_folder_record(&self.project.folder)? {
            Some(record) if record.snapshot == tag => Ok(record),
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
        record: Option<&PackageRecord>,
    ) -> ImageConfig {
        let labels = SnapshotLabels {
            name: self.name().to_string(),
            // Which state folder made it, for clean-up by label; `jenv push` blanks it (share.rs).
            home: self.state.root.display().to_string(),
            tag: tag.to_string(),
            created,
            message: message.to_string(),
            record: record.map(PackageRecord::to_toml),
        };
        labels.apply(&mut config);
        config
    }

    /// Squashes `image` into a single layer under the same tag, keeping its config, and returns
    /// the new image ID. The unflattened image is removed.
    pub async fn flatten(&self, image: &str, tag: &str, config: &ImageConfig) -> Result<String> {
        let helper = self.helper_spec(image, "flatten");
        let repository = &self.project.manifest.repository;
        with_helper(&self.engine, &helper, async |name: &str| {
            let spinner = Spinner::new("flattening the snapshot into one layer");
            let imported = self.engine.import_filesystem(name, repository, tag, config.dockerfile_changes()).await;
            spinner.finish();
            imported
        })
        .await?;
        let reference = format!("{repository}:{tag}");
        let flat =
            self.engine.inspect_image(&reference).await?.map(|i| i.id).context("the flattened image vanished")?;
        if flat != image {
            self.engine.remove_image(image).await?;
        }
        Ok(flat)
    }

    /// A short-lived container that is never listed as an environment.
    pub fn helper_spec(&self, image: &str, purpose: &str) -> ContainerSpec {
        helper::idle_spec(
            helper::name(&self.project.container_name(), purpose),
            image,
            &self.state.root.display().to_string(),
        )
    }
}
