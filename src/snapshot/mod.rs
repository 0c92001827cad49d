//! Snapshots: committing the running notebook into the folder's own image, without caches,
//! runtime files or the mounted folder, and flattening long layer chains before overlayfs's limit.
pub mod build;
pub mod export;
pub mod exported;
pub mod flatten;
pub mod interrupted;
pub mod rebuild;
pub mod share;
pub mod stop;
pub mod store;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::clock;
use crate::engine::Engine;
use crate::engine::image_config::ImageConfig;
use crate::engine::labels::SnapshotLabels;
use crate::engine::types::Container;
use crate::error::hinted;
use crate::notebook::Notebook;
use crate::packages::baseline::Listings;
use crate::packages::installers;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::packages::{self, Change, Manager};
use crate::snapshot::interrupted::{Pending, PendingSnapshot};
use crate::snapshot::store::SnapshotStore;
use crate::state::env_lock::EnvLock;
use crate::ui::Console;
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

/// Commits the running notebook as a new tag of the folder's repository and moves `latest` to
/// it, so the next `jenv up` starts from it.
pub async fn take(nb: &Notebook, message: &str, force_flatten: bool) -> Result<Snapshot> {
    let lock = nb.lock("jenv snapshot").await?;
    take_holding(nb, &lock, message, force_flatten).await
}

/// [`take`] for a caller that already holds the folder's lock.
pub async fn take_holding(nb: &Notebook, _lock: &EnvLock, message: &str, force_flatten: bool) -> Result<Snapshot> {
    let started = Instant::now();
    let container = nb.check_running(nb.find().await?)?;
    let packages = nb.packages();
    let store = SnapshotStore::of(nb);
    let (baseline, before) = packages.baseline(&container).await?;

    let parent = nb.engine.inspect_image(&container.image_id).await?.context("the notebook's image is gone")?;
    let repository = &nb.project.manifest.repository;
    let created = clock::now_secs();
    let tag = store.free_tag(created).await?;
    let latest = nb.engine.inspect_image(&format!("{repository}:latest")).await?.map(|i| i.id);
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
    let baseline_record = store.record_of(&baseline).await?;
    // The record of what the image holds, from the package listing taken as it commits; it
    // travels in the image as a label, so a pulled snapshot says what it holds.
    let record_at = |listing: &str| {
        let now = packages.installed(listing);
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
        snapshot_config(nb, parent_config.clone(), &tag, created, message, Some(&record))
    };
    let (listing, image, committing) = commit_between_installs(nb, &container, &mut pending, config_at).await?;
    let (mut record, changes) = record_at(&listing);
    let config = config_at(&listing);

    let committed = nb.engine.inspect_image(&image).await?.context("the snapshot image vanished")?;
    // The commit's own layer: what this snapshot stores beyond the image the notebook runs.
    let size_added = committed.size.unwrap_or(0) - parent.size.unwrap_or(0);
    let mut layers = committed.layers;
    let flattened = force_flatten || layers >= flatten_threshold();
    let image = if flattened { flatten::flatten(nb, &image, &tag, &config).await? } else { image };
    if flattened {
        layers = 1;
    }
    nb.engine.tag(&image, repository, "latest").await?;

    record.size_added = size_added;
    RecordStore::new(&nb.state, nb.name()).save(&record)?;
    record::write_folder_record(&nb.project.folder, &record)?;
    Listings::new(&nb.state).save(&image, &listing)?;
    nb.update_state(|r| r.baseline = Some(image.clone()))?;
    // Last: until this note is gone, the next command can finish what a kill left.
    Pending::new(&nb.state, nb.name()).remove(&tag)?;
    Ok(Snapshot { tag, image, size_added, committing, total: started.elapsed(), layers, flattened, changes })
}

/// Commits the running notebook without pausing it (with the config `config_at` gives for the
/// package listing at that moment), when no package manager is at work in it: waits while one
/// runs, and if one ran during the commit (the package listing moved, or an installer is
/// running now), drops that image and commits again. Each commit is noted in `pending` first
/// (see interrupted.rs). Returns the package listing the image holds, its ID and how long the
/// commit took.
async fn commit_between_installs(
    nb: &Notebook,
    container: &Container,
    pending: &mut PendingSnapshot,
    config_at: impl Fn(&str) -> ImageConfig,
) -> Result<(String, String, Duration)> {
    let notes = Pending::new(&nb.state, nb.name());
    let packages = nb.packages();
    let repository = &nb.project.manifest.repository;
    for _ in 0..COMMIT_ATTEMPTS {
        wait_for_installers(&nb.engine, container, &nb.console).await?;
        let listing = packages.list(container, true).await?;
        pending.listing = listing.clone();
        pending.image = None;
        notes.save(pending)?;
        let started = Instant::now();
        let spinner = nb.console.spinner("committing the notebook (it keeps running)");
        let committed = nb.engine.commit(&container.id, repository, &pending.tag, config_at(&listing), false).await;
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
        let processes = nb.engine.processes(&container.id).await?;
        if installers::first_installer(&processes).is_none()
            && packages.installed(&packages.list(container, false).await?) == packages.installed(&listing)
        {
            return Ok((listing, image, committing));
        }
        nb.console.progress("packages changed while the snapshot was committing; committing again");
        nb.engine.remove_image(&image).await?;
    }
    notes.remove(&pending.tag)?;
    hinted!(
        "packages kept changing in the notebook during {COMMIT_ATTEMPTS} commits; no snapshot was taken";
        "let the installs in the notebook finish, then run `jenv snapshot` again"
    )
}

/// Waits (saying so) while pip, conda, mamba or apt runs in the container; refuses after a while.
async fn wait_for_installers(engine: &Engine, container: &Container, console: &Console) -> Result<()> {
    let deadline = Instant::now() + installer_wait();
    let mut spinner: Option<Spinner> = None;
    loop {
        let processes = engine.processes(&container.id).await?;
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
            spinner = Some(console.spinner(&format!("waiting for `{running}` to finish before the snapshot")));
        }
        tokio::time::sleep(INSTALLER_POLL).await;
    }
    if let Some(spinner) = spinner {
        spinner.finish();
    }
    Ok(())
}

/// `config` labelled as the snapshot `tag` of `nb`'s folder, carrying `record`.
pub(crate) fn snapshot_config(
    nb: &Notebook,
    mut config: ImageConfig,
    tag: &str,
    created: u64,
    message: &str,
    record: Option<&PackageRecord>,
) -> ImageConfig {
    let labels = SnapshotLabels {
        name: nb.name().to_string(),
        // Which state folder made it, for clean-up by label; `jenv push` blanks it (share.rs).
        home: nb.state.root.display().to_string(),
        tag: tag.to_string(),
        created,
        message: message.to_string(),
        record: record.map(PackageRecord::to_toml),
    };
    labels.apply(&mut config);
    config
}
