//! Snapshots that a killed `jenv snapshot` left half done.
//!
//! Before each commit a snapshot writes down what it is committing
//! (`snapshots/<name>/<tag>.pending`) and it removes that note as its very last step, so a note
//! found later means the process died in between. The engine commits atomically and finishes a
//! commit whose client has died, so the image is either absent or whole. The next jenv command
//! about the folder finishes it as the snapshot would have (record and size, `latest`,
//! `.jupyter-env.lock`, the notebook's baseline), unless the notebook's packages moved while it
//! committed (the check the killed snapshot never made): then it is marked interrupted, for
//! `jenv prune` to remove.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::labels::{self, SnapshotLabels};
use crate::engine::types::ImageInfo;
use crate::notebook::Notebook;
use crate::packages::record::{self, PackageRecord, RecordStore};
use crate::state::env_lock::EnvLocks;
use crate::state::files::{read_text, remove_if_exists, write_atomic};
use crate::state::{StateDir, Sub};

/// What a snapshot writes down before it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSnapshot {
    pub tag: String,
    /// The jenv process taking it; its flatten helper is named after it.
    pub pid: u32,
    /// The container being committed.
    pub container: String,
    /// The image that container runs: the commit's parent.
    pub parent: String,
    /// The image `latest` named when the snapshot started (none before the first one).
    pub latest: Option<String>,
    /// The package listing taken just before the commit, which the image's record label describes.
    pub listing: String,
    /// The committed image, once the engine has answered.
    #[serde(default)]
    pub image: Option<String>,
    /// Set by the command that found its packages moved during the commit.
    #[serde(default)]
    pub interrupted: bool,
}

/// Where a folder's pending snapshots are noted, beside their records.
pub struct Pending {
    dir: PathBuf,
}

impl Pending {
    pub fn new(state: &StateDir, env_name: &str) -> Pending {
        Pending { dir: state.sub(Sub::Snapshots).join(env_name) }
    }

    pub fn save(&self, pending: &PendingSnapshot) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let text = serde_json::to_string_pretty(pending).expect("a pending snapshot always serializes");
        write_atomic(&self.path(&pending.tag), text.as_bytes())
    }

    pub fn load(&self, tag: &str) -> Result<Option<PendingSnapshot>> {
        let path = self.path(tag);
        let Some(text) = read_text(&path)? else { return Ok(None) };
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a pending snapshot jenv can read", path.display()))
    }

    /// Every pending snapshot of the folder, oldest first.
    pub fn all(&self) -> Result<Vec<PendingSnapshot>> {
        let mut tags: Vec<String> = match fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".pending").map(str::to_string))
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        tags.sort();
        Ok(tags.iter().map(|tag| self.load(tag)).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
    }

    pub fn remove(&self, tag: &str) -> Result<()> {
        remove_if_exists(&self.path(tag))
    }

    fn path(&self, tag: &str) -> PathBuf {
        self.dir.join(format!("{tag}.pending"))
    }
}

/// What the engine and the folder hold now for a pending snapshot.
#[derive(Debug, Default)]
pub struct Found {
    /// The image `repository:TAG` names.
    pub image: Option<String>,
    /// Whether that image carries its record as a label, as every snapshot does.
    pub record: bool,
    /// Whether its packages are the ones listed before the commit (`None`: not checked).
    pub same_packages: Option<bool>,
    /// The image `latest` names.
    pub latest: Option<String>,
    /// The folder's container.
    pub container: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No image yet, and the engine may still be committing it: look again next time.
    Wait,
    /// Nothing was made: the commit was dropped, or its image removed since.
    Nothing,
    /// Record it; make it what `jenv up` starts from when `current`, and the notebook's
    /// baseline too when `baseline`.
    Finish {
        current: bool,
        baseline: bool,
    },
    Interrupted,
}

pub fn decide(pending: &PendingSnapshot, found: &Found) -> Verdict {
    let Some(image) = &found.image else {
        // An image ID noted means the commit had returned: the image went away since.
        return if pending.image.is_some() { Verdict::Nothing } else { Verdict::Wait };
    };
    if pending.interrupted || !found.record || found.same_packages == Some(false) {
        return Verdict::Interrupted;
    }
    // Current unless another snapshot (or a rollback, a pull) has become current since it started.
    let current = found.latest == pending.latest || found.latest.as_ref() == Some(image);
    let baseline = current && found.container.as_ref() == Some(&pending.container);
    Verdict::Finish { current, baseline }
}

/// What the next command did about an interrupted snapshot.
#[derive(Debug)]
pub enum Settled {
    Finished { tag: String, current: bool },
    Interrupted { tag: String },
}

/// Finishes, or marks interrupted, the snapshots a killed `jenv snapshot` of this folder
/// left. Does nothing while another jenv command works on the folder (it may be that snapshot).
pub async fn settle(nb: &Notebook) -> Result<Vec<Settled>> {
    let pending = Pending::new(&nb.state, nb.name());
    if pending.all()?.iter().all(|p| p.interrupted) {
        return Ok(Vec::new());
    }
    let locks = EnvLocks::new(&nb.state);
    let Some(_op) = locks.try_acquire(nb.name(), "jenv finishing an interrupted snapshot")? else {
        return Ok(Vec::new());
    };
    let mut settled = Vec::new();
    // Read again under the lock: the holder we gave way to may have finished its own.
    for snapshot in pending.all()?.into_iter().filter(|p| !p.interrupted) {
        settled.extend(settle_one(nb, &pending, snapshot).await?);
    }
    Ok(settled)
}

async fn settle_one(nb: &Notebook, pending: &Pending, mut snapshot: PendingSnapshot) -> Result<Option<Settled>> {
    let repository = &nb.project.manifest.repository;
    let inspected = nb.engine.inspect_image(&format!("{repository}:{}", snapshot.tag)).await?;
    let record = inspected.as_ref().and_then(|image| record_label(image, &snapshot.tag));
    let container = nb.find().await?;
    let mut found = Found {
        image: inspected.as_ref().map(|i| i.id.clone()),
        record: record.is_some(),
        same_packages: None,
        latest: nb.engine.inspect_image(&format!("{repository}:latest")).await?.map(|i| i.id),
        container: container.as_ref().map(|c| c.id.clone()),
    };
    // Listed as the notebook's user sees it; without a container jenv trusts the whole image.
    if let (Some(image), Some(container), true) = (&found.image, &container, found.record) {
        let packages = nb.packages();
        let listing = packages.image_listing(image, container).await?;
        found.same_packages = Some(packages.installed(&listing) == packages.installed(&snapshot.listing));
    }
    let verdict = decide(&snapshot, &found);
    if verdict != Verdict::Wait {
        clear_leftovers(nb, &snapshot, found.image.as_deref()).await?;
    }
    match verdict {
        Verdict::Wait => Ok(None),
        Verdict::Nothing => {
            pending.remove(&snapshot.tag)?;
            Ok(None)
        }
        Verdict::Interrupted => {
            snapshot.interrupted = true;
            pending.save(&snapshot)?;
            Ok(Some(Settled::Interrupted { tag: snapshot.tag }))
        }
        Verdict::Finish { current, baseline } => {
            let (Some(image), Some(inspected), Some(mut record)) = (found.image, inspected, record) else {
                unreachable!("only a labelled image is finished")
            };
            let parent = nb.engine.inspect_image(&snapshot.parent).await?.and_then(|i| i.size);
            // The commit's own layer, as the snapshot measures it.
            record.size_added = inspected.size.zip(parent).map_or(0, |(size, parent)| size - parent);
            RecordStore::new(&nb.state, nb.name()).save(&record)?;
            if current {
                nb.engine.tag(&image, repository, "latest").await?;
                record::write_folder_record(&nb.project.folder, &record)?;
            }
            if baseline {
                nb.update_state(|r| r.baseline = Some(image.clone()))?;
            }
            pending.remove(&snapshot.tag)?;
            Ok(Some(Settled::Finished { tag: snapshot.tag, current }))
        }
    }
}

/// Removes what the killed snapshot had made besides its image: its flatten helper, and
/// the unflattened image a flatten left untagged.
async fn clear_leftovers(nb: &Notebook, snapshot: &PendingSnapshot, tagged: Option<&str>) -> Result<()> {
    nb.engine.remove(&format!("{}-flatten-{}", nb.project.container_name(), snapshot.pid)).await?;
    if let Some(committed) = snapshot.image.as_deref().filter(|id| Some(*id) != tagged)
        && let Some(untagged) = nb.engine.inspect_image(committed).await?
        && untagged.repo_tags.is_empty()
    {
        nb.engine.remove_image(committed).await?;
    }
    Ok(())
}

/// The record a snapshot image carries as a label, if it is the record of `tag`.
fn record_label(image: &ImageInfo, tag: &str) -> Option<PackageRecord> {
    let labels = SnapshotLabels::from_map(&image.labels);
    let record = PackageRecord::parse(labels.record.as_deref()?, std::path::Path::new(labels::RECORD)).ok()?;
    (labels.tag == tag && record.snapshot == tag).then_some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(latest: Option<&str>, image: Option<&str>) -> PendingSnapshot {
        PendingSnapshot {
            tag: "20260101-120000".into(),
            pid: 42,
            container: "c1".into(),
            parent: "sha256:base".into(),
            latest: latest.map(str::to_string),
            listing: "/site/a-1.0.dist-info\n".into(),
            image: image.map(str::to_string),
            interrupted: false,
        }
    }

    fn found(image: Option<&str>, latest: Option<&str>, container: Option<&str>) -> Found {
        Found {
            image: image.map(str::to_string),
            record: true,
            same_packages: Some(true),
            latest: latest.map(str::to_string),
            container: container.map(str::to_string),
        }
    }

    #[test]
    fn a_whole_image_is_finished_as_the_snapshot_would_have() {
        let first = pending(None, None);
        assert_eq!(
            decide(&first, &found(Some("new"), None, Some("c1"))),
            Verdict::Finish { current: true, baseline: true }
        );
        // Killed after `latest` moved: still its own.
        let later = pending(Some("old"), Some("new"));
        assert_eq!(
            decide(&later, &found(Some("new"), Some("new"), Some("c1"))),
            Verdict::Finish { current: true, baseline: true }
        );
        // The notebook was recreated since: the image is current, its baseline is not the new container's.
        assert_eq!(
            decide(&later, &found(Some("new"), Some("old"), Some("c2"))),
            Verdict::Finish { current: true, baseline: false }
        );
        // Without a container to list it as, the whole image is trusted.
        let unchecked = Found { same_packages: None, ..found(Some("new"), Some("old"), None) };
        assert_eq!(decide(&later, &unchecked), Verdict::Finish { current: true, baseline: false });
    }

    #[test]
    fn an_image_that_landed_after_another_became_current_is_only_recorded() {
        let late = pending(Some("old"), None);
        assert_eq!(
            decide(&late, &found(Some("new"), Some("newer"), Some("c1"))),
            Verdict::Finish { current: false, baseline: false }
        );
    }

    #[test]
    fn no_image_is_waited_for_until_the_commit_is_known_to_have_returned() {
        assert_eq!(decide(&pending(None, None), &found(None, None, Some("c1"))), Verdict::Wait);
        assert_eq!(decide(&pending(None, Some("dropped")), &found(None, None, Some("c1"))), Verdict::Nothing);
    }

    #[test]
    fn packages_that_moved_during_the_commit_make_it_interrupted() {
        let moved = Found { same_packages: Some(false), ..found(Some("new"), None, Some("c1")) };
        assert_eq!(decide(&pending(None, None), &moved), Verdict::Interrupted);
        let unlabelled = Found { record: false, ..found(Some("new"), None, Some("c1")) };
        assert_eq!(decide(&pending(None, None), &unlabelled), Verdict::Interrupted);
    }

    #[test]
    fn pending_snapshots_are_kept_per_tag_and_read_back_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Pending::new(&StateDir { root: tmp.path().into() }, "env");
        assert!(store.all().unwrap().is_empty(), "none yet, not even a folder");
        let mut newer = pending(None, None);
        newer.tag = "20260102-000000".into();
        let older = pending(None, Some("img"));
        store.save(&newer).unwrap();
        store.save(&older).unwrap();
        // A record beside them is no pending snapshot.
        RecordStore::new(&StateDir { root: tmp.path().into() }, "env").save(&PackageRecord::default()).unwrap();
        assert_eq!(store.all().unwrap(), [older.clone(), newer.clone()]);
        store.remove(&older.tag).unwrap();
        store.remove(&older.tag).unwrap();
        assert_eq!(store.load(&newer.tag).unwrap(), Some(newer));
        assert_eq!(store.load(&older.tag).unwrap(), None);
    }
}
