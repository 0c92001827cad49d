//! Stopping a notebook without losing installs silently: changes since the last snapshot are
//! snapshotted, discarded on request, or left for the person to decide; with nobody to ask, the
//! stop is refused and the notebook keeps running. `jenv down` stops this way, and so does `jenv
//! up` when it recreates a notebook or its `--attach` ends on Ctrl-C.

use anyhow::Result;

use crate::engine::types::Container;
use crate::error::Hinted;
use crate::notebook::{Notebook, Purpose};
use crate::packages::Change;
use crate::snapshot::Snapshot;
use crate::state::env_lock::EnvLock;

/// What to do with package changes that are not in a snapshot when the notebook stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Discard,
    Snapshot,
    /// Ask on a terminal; refuse without one.
    AskIfChanged,
}

/// A notebook about to stop. The folder's lock is held from [`Stopping::begin`] to the end of
/// [`Stopping::finish`], so a snapshot in progress is waited for before changes are counted,
/// and nothing changes between the person's decision and the stop.
pub struct Stopping<'a> {
    nb: &'a Notebook,
    lock: EnvLock,
    container: Option<Container>,
    leave: Leave,
    /// Changes no snapshot holds that nobody has decided on yet (`Leave::AskIfChanged` only).
    undecided: Vec<Change>,
}

/// What a stop did.
#[derive(Debug)]
pub struct Stopped {
    /// The snapshot taken before stopping, if one was.
    pub snapshot: Option<Snapshot>,
    /// Whether there was a container to stop (else it "was not running").
    pub existed: bool,
}

impl<'a> Stopping<'a> {
    /// Takes the folder's lock and counts the changes no snapshot holds (with `AskIfChanged`;
    /// a stopped notebook is then an error, since its packages cannot be listed).
    pub async fn begin(nb: &'a Notebook, leave: Leave) -> Result<Stopping<'a>> {
        Stopping::begin_with(nb, leave, false).await
    }

    /// [`Stopping::begin`] with `AskIfChanged` for a notebook that is to be recreated: a
    /// stopped one is started first, under the same lock, so its installs can be counted.
    pub async fn begin_starting(nb: &'a Notebook) -> Result<Stopping<'a>> {
        Stopping::begin_with(nb, Leave::AskIfChanged, true).await
    }

    async fn begin_with(nb: &'a Notebook, leave: Leave, start_stopped: bool) -> Result<Stopping<'a>> {
        let lock = nb.lock("jenv down").await?;
        let mut container = match nb.find().await? {
            // Under the lock, a paused notebook was paused outside jenv: say so.
            Some(container) if container.is_paused() => Some(nb.check_running(Some(container))?),
            other => other,
        };
        let mut undecided = Vec::new();
        if leave == Leave::AskIfChanged
            && let Some(found) = container.take()
        {
            let found = if found.is_running() {
                found
            } else if start_stopped {
                nb.start_stopped(&lock, found, Purpose::CheckInstalls).await?
            } else {
                return Err(Hinted::new(
                    "the notebook is stopped, so jenv cannot tell whether it holds packages no snapshot has",
                    "run `jenv up` and then `jenv snapshot` or `jenv down`, or drop it with `jenv down --discard`",
                )
                .into());
            };
            undecided = nb.packages().pending_changes(&found).await?;
            container = Some(found);
        }
        Ok(Stopping { nb, lock, container, leave, undecided })
    }

    /// What the person must decide on before the notebook stops, if anything: the changes no
    /// snapshot holds, counted and listed. Nothing unless the stop was to ask.
    pub fn question(&self) -> Option<String> {
        (!self.undecided.is_empty()).then(|| {
            format!("the notebook has {} that no snapshot holds:{}", count(&self.undecided), listing(&self.undecided))
        })
    }

    /// The changes no snapshot holds that wait for a decision, counted (`2 package changes`).
    pub fn undecided(&self) -> String {
        count(&self.undecided)
    }

    /// The person's answer to [`Stopping::question`]: snapshot first, or discard.
    pub fn decide(&mut self, leave: Leave) {
        self.leave = leave;
        self.undecided.clear();
    }

    /// Snapshots first if asked to, then stops and removes the container. Changes nobody
    /// decided on refuse the stop, naming them and both ways out.
    pub async fn finish(self) -> Result<Stopped> {
        if !self.undecided.is_empty() {
            return Err(Hinted::new(
                format!(
                    "the notebook has {} that no snapshot holds; stopping it would lose them:{}",
                    count(&self.undecided),
                    listing(&self.undecided)
                ),
                "keep them with `jenv snapshot` (or `jenv down --snapshot`), or drop them with `jenv down --discard`",
            )
            .into());
        }
        let snapshot = if self.leave == Leave::Snapshot && self.container.is_some() {
            Some(crate::snapshot::take_holding(self.nb, &self.lock, "taken by jenv down", false).await?)
        } else {
            None
        };
        let existed = self.nb.down_holding(&self.lock).await?;
        Ok(Stopped { snapshot, existed })
    }
}

/// `3 package changes`.
pub(crate) fn count(changes: &[Change]) -> String {
    format!("{} package change{}", changes.len(), if changes.len() == 1 { "" } else { "s" })
}

/// The changes, one indented line each.
pub(crate) fn listing(changes: &[Change]) -> String {
    changes.iter().map(|c| format!("\n  {c}")).collect()
}
