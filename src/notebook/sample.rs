//! Every notebook on the engine at a glance, as `jenv top` shows it: each one's status with what
//! it uses (memory, CPU), what it does (kernels busy or idle, its last activity), what it holds
//! that no snapshot does, and how many of its kernels the kernel killed for lack of memory.
//!
//! The notebooks are asked together, their CPU measured before anything else asks them. Looking
//! never counts as activity (Jupyter is asked with `no_track_activity`), and package changes are counted only where it is cheap: a notebook whose
//! site-packages folders have not moved since it was created (or since the last count) keeps its
//! count, and one whose baseline listing jenv has not cached is not counted at all. Nothing is
//! run in a notebook above 80% of its memory limit: a process started there could get its
//! server killed for memory (its count stays as it was, or unknown).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use futures_util::future::join_all;
use serde::Serialize;

use crate::clock;
use crate::engine::Engine;
use crate::engine::types::Container;
use crate::engine::usage::Usage;
use crate::manifest;
use crate::notebook::jupyter::{self, Activity};
use crate::notebook::status::NotebookStatus;
use crate::notebook::url::{reachable_port, token_of, url_of};
use crate::packages::baseline::Packages;
use crate::state::StateDir;

/// One notebook as `jenv top` reports it (`--json`: its status fields, then these).
#[derive(Debug, Serialize)]
pub struct NotebookSample {
    #[serde(flatten)]
    pub status: NotebookStatus,
    pub memory: Option<Memory>,
    /// Percent of one CPU, as `docker stats` shows it.
    pub cpu_percent: Option<f64>,
    pub kernels: Option<Kernels>,
    /// RFC 3339.
    pub last_activity: Option<String>,
    /// Package changes no snapshot holds.
    pub changes: Option<usize>,
    /// Processes (kernels) killed for lack of memory since the notebook started.
    pub oom_kills: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub used_bytes: u64,
    /// `None` without a `[resources] memory` limit.
    pub limit_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Kernels {
    pub busy: u32,
    pub idle: u32,
}

/// What was measured of one running notebook: its use, its Jupyter's activity, its changes.
type Measured = (Option<Usage>, Option<Activity>, Option<usize>);

/// Takes samples, remembering between them what makes the next one cheap.
#[derive(Default)]
pub struct Sampler {
    counted: HashMap<String, Counted>,
}

/// A package count, and what it was counted against: it holds while these stay the same.
#[derive(Debug, Clone)]
struct Counted {
    baseline: String,
    site_dirs: Vec<String>,
    stamps: Vec<Option<String>>,
    changes: usize,
}

impl Sampler {
    /// Every jenv notebook on the engine, sorted by folder; `tokens` are the state's.
    pub async fn sample(&mut self, engine: &Engine, tokens: &BTreeMap<String, String>) -> Result<Vec<NotebookSample>> {
        let containers = engine.list(None).await?;
        let running: Vec<&Container> = containers.iter().filter(|c| c.is_running()).collect();
        // CPU first: asking Jupyter and listing packages would count as the notebook's own use.
        let usage = engine.usage(&running, true).await;
        let (activity, counts) = tokio::join!(
            join_all(running.iter().map(|c| activity_of(engine, tokens, c))),
            join_all(running.iter().zip(&usage).map(|(c, u)| self.count_changes(engine, c, !near_limit(u.as_ref())))),
        );
        let mut measured: HashMap<&str, Measured> = HashMap::new();
        for (((container, usage), activity), counted) in running.iter().zip(usage).zip(activity).zip(counts) {
            let changes = counted.as_ref().map(|c| c.changes);
            match counted {
                Some(counted) => self.counted.insert(container.id.clone(), counted),
                None => self.counted.remove(&container.id),
            };
            measured.insert(&container.id, (usage, activity, changes));
        }
        let mut samples = Vec::new();
        for container in &containers {
            let alive = container.is_running() || container.is_paused();
            let url = if alive { Some(url_of(tokens, engine, container).await?) } else { None };
            let (usage, activity, changes) = measured.remove(container.id.as_str()).unwrap_or_default();
            samples.push(NotebookSample {
                status: NotebookStatus::from_container(container, url),
                memory: usage.as_ref().map(|u| Memory { used_bytes: u.memory_used, limit_bytes: u.memory_limit }),
                cpu_percent: usage.as_ref().and_then(|u| u.cpu_percent).map(|p| (p * 10.0).round() / 10.0),
                kernels: activity.as_ref().map(|a| Kernels { busy: a.busy, idle: a.idle }),
                last_activity: activity.and_then(|a| a.last_activity),
                changes,
                oom_kills: usage.and_then(|u| u.oom_kills),
            });
        }
        samples.sort_by(|a, b| a.status.folder.cmp(&b.status.folder));
        Ok(samples)
    }

    /// The container's package changes, if they can be counted cheaply (see the module's note).
    /// Without `may_exec`, only what needs no process in the container: starting one in a
    /// notebook at its memory limit could get its server killed for memory.
    async fn count_changes(&self, engine: &Engine, container: &Container, may_exec: bool) -> Option<Counted> {
        let state = StateDir { root: container.home.clone().into() };
        let packages =
            Packages::new(engine, &state, &container.name, &container.mount, manifest::container_name(&container.name));
        let baseline = packages.baseline_image(container);
        let known = self.counted.get(&container.id).filter(|known| known.baseline == baseline);
        let site_dirs = match known {
            Some(known) => known.site_dirs.clone(),
            None if may_exec => packages.site_dirs(container).await.ok()?,
            None => packages.cached_site_dirs(container)?,
        };
        let stamps = packages.stamps(container, &site_dirs).await.ok()?;
        if let Some(known) = known.filter(|known| known.stamps == stamps) {
            return Some(known.clone());
        }
        let untouched = baseline == container.image_id && unchanged_since(&stamps, container.created);
        let changes = match untouched {
            true => 0,
            false if may_exec => packages.pending_changes_if_cheap(container).await.ok()??.len(),
            false => return known.cloned(),
        };
        Some(Counted { baseline, site_dirs, stamps, changes })
    }
}

/// Whether a notebook uses more than 80% of its memory limit.
fn near_limit(usage: Option<&Usage>) -> bool {
    usage.is_some_and(|u| u.memory_limit.is_some_and(|limit| u.memory_used > limit / 10 * 8))
}

/// Whether no folder was modified after `created` (seconds since 1970): the container holds
/// its image's packages still. A time that cannot be read, or falls in the same second, counts
/// as a change.
fn unchanged_since(stamps: &[Option<String>], created: i64) -> bool {
    stamps.iter().flatten().all(|stamp| clock::parse_rfc3339(stamp).is_some_and(|secs| (secs as i64) < created))
}

/// What the notebook's Jupyter says it is doing; `None` when it does not answer.
pub async fn activity_of(
    engine: &Engine,
    tokens: &BTreeMap<String, String>,
    container: &Container,
) -> Option<Activity> {
    let port = reachable_port(engine, container).ok()?;
    let token = token_of(tokens, engine, container).await.ok()?;
    jupyter::activity(port, &token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notebook_near_its_memory_limit_is_left_alone() {
        let usage = |used, limit| Usage { memory_used: used, memory_limit: limit, cpu_percent: None, oom_kills: None };
        assert!(near_limit(Some(&usage(330, Some(384)))));
        assert!(!near_limit(Some(&usage(100, Some(384)))));
        assert!(!near_limit(Some(&usage(10_000, None))));
        assert!(!near_limit(None));
    }

    #[test]
    fn folders_older_than_the_container_hold_the_image_packages() {
        let created = 1_795_010_709;
        let before = Some("2026-11-18T14:05:08.999Z".to_string());
        let same_second = Some("2026-11-18T14:05:09.1Z".to_string());
        assert!(unchanged_since(&[before.clone(), None], created));
        assert!(!unchanged_since(&[before.clone(), same_second], created));
        assert!(!unchanged_since(&[Some("garbled".into())], created));
    }
}
