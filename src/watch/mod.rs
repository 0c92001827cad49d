//! `jenv watch`: notices requirement-file edits and installs done inside the notebook, and
//! offers to install and snapshot, so nothing installed is forgotten.
//!
//! Files are watched through their folders (editors save by renaming a temp file over the
//! original, or by deleting and recreating it); events are debounced so a burst of writes is
//! one change, and only a real change of content acts. Installs made from the notebook are
//! noticed by polling the modification times of the site-packages folders, which costs the
//! engine a stat and starts no process; only when one moves are packages listed.

pub mod event;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, sleep_until};

use crate::engine::types::Container;
use crate::engine::types::LogChunk;
use crate::manifest::Manifest;
use crate::manifest::user_config::UserConfig;
use crate::notebook::Notebook;
use crate::packages::Change;
use crate::packages::requirements::{self, Kind, Status};
use crate::state::run_env::RunEnv;
use crate::watch::event::Event;

/// Quiet time after the last file event before acting: long enough to merge an editor's burst.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The quiet time after the last write before the watcher acts: `JENV_WATCH_DEBOUNCE_MS`
/// (for editors or file systems that save in slower steps), else 100 ms.
fn debounce() -> Duration {
    crate::manifest::user_config::millis_from_env("JENV_WATCH_DEBOUNCE_MS", DEBOUNCE)
}
/// How often installs made inside the notebook are looked for.
const PACKAGE_POLL: Duration = Duration::from_secs(2);
const NOTEBOOK_POLL: Duration = Duration::from_secs(1);

pub struct Options {
    /// Install and snapshot without asking.
    pub yes: bool,
    /// Report events as JSON lines on stdout (installer output goes to stderr).
    pub json: bool,
}

impl Options {
    /// The watcher's options from the flags of `jenv watch` (or `jenv up --watch`): `--yes`, or
    /// `yes = true` under [watch] in the manifest or the user config unless `--ask` says otherwise.
    pub fn from_flags(yes: bool, ask: bool, json: bool, manifest: &Manifest, config: &UserConfig) -> Options {
        let configured = manifest.watch.yes || config.watch_yes();
        Options { yes: yes || (configured && !ask), json }
    }
}

struct Watched {
    /// As the manifest names it, relative to the folder.
    name: String,
    path: PathBuf,
    kind: Kind,
}

struct Watcher<'a> {
    nb: &'a Notebook,
    options: Options,
    report: &'a dyn Fn(&Event),
    files: Vec<Watched>,
    /// Each file's content when last acted on (`None`: absent).
    seen: BTreeMap<String, Option<Vec<u8>>>,
    /// Site-packages folders of the current container, and their last modification times.
    site_dirs: Option<(String, Vec<String>)>,
    stamps: Vec<Option<String>>,
    recheck: bool,
    /// Changes already offered for a snapshot and declined: not offered again.
    offered: Vec<Change>,
}

/// Runs until an error, handing each event to `report`; the caller stops it (Ctrl-C) by
/// dropping the future.
pub async fn run(nb: &Notebook, options: Options, report: &dyn Fn(&Event)) -> Result<Infallible> {
    let files: Vec<Watched> = nb
        .project
        .manifest
        .watch
        .files
        .iter()
        .map(|name| Watched {
            name: name.clone(),
            path: nb.project.folder.join(name),
            kind: Kind::of(Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or(name)),
        })
        .collect();

    let (tx, mut events) = mpsc::unbounded_channel();
    let mut fs_watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Only what can change content: reading the file ourselves (an open or access event)
        // must not re-arm the debounce.
        if let Ok(event) = event
            && matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any)
        {
            let _ = tx.send(event.paths);
        }
    })
    .context("cannot start the file watcher")?;
    let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.path.parent()).collect();
    for folder in folders {
        if folder.is_dir() {
            fs_watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .with_context(|| format!("cannot watch {}", folder.display()))?;
        }
    }

    let seen = files.iter().map(|f| (f.name.clone(), std::fs::read(&f.path).ok())).collect();
    let mut watcher = Watcher {
        nb,
        options,
        report,
        files,
        seen,
        site_dirs: None,
        stamps: Vec::new(),
        recheck: false,
        offered: Vec::new(),
    };
    watcher.emit(Event::Watching {
        folder: nb.project.folder.display().to_string(),
        files: watcher.files.iter().map(|f| f.name.clone()).collect(),
    });

    let mut container = watcher.wait_for_notebook().await?;
    let debounce = debounce();
    let mut due: Option<Instant> = None;
    let mut poll = interval(PACKAGE_POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            Some(paths) = events.recv() => {
                if paths.iter().any(|p| watcher.is_watched(p)) {
                    due = Some(Instant::now() + debounce);
                }
            }
            _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                due = None;
                container = watcher.ensure_running(container).await?;
                watcher.on_files_settled(&container).await?;
            }
            _ = poll.tick() => {
                container = watcher.ensure_running(container).await?;
                watcher.on_poll(&container).await?;
            }
        }
    }
}

impl Watcher<'_> {
    fn emit(&self, event: Event) {
        (self.report)(&event);
    }

    fn is_watched(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f.path == path)
    }

    async fn wait_for_notebook(&self) -> Result<Container> {
        let mut announced = false;
        loop {
            if let Some(container) = self.nb.find().await?.filter(Container::is_running) {
                return Ok(container);
            }
            if !announced {
                self.emit(Event::WaitingForNotebook);
                announced = true;
            }
            sleep(NOTEBOOK_POLL).await;
        }
    }

    /// The running container, waiting for it if it stopped; a new container resets what is
    /// known about its packages, and requirement files changed meanwhile are acted on.
    async fn ensure_running(&mut self, container: Container) -> Result<Container> {
        let current = self.nb.find().await?.filter(Container::is_running);
        match current {
            Some(current) if current.id == container.id => Ok(current),
            _ => {
                let fresh = match current {
                    Some(current) => current,
                    None => self.wait_for_notebook().await?,
                };
                self.site_dirs = None;
                self.stamps.clear();
                self.offered.clear();
                self.on_files_settled(&fresh).await?;
                Ok(fresh)
            }
        }
    }

    async fn on_files_settled(&mut self, container: &Container) -> Result<()> {
        for index in 0..self.files.len() {
            let (name, path) = (self.files[index].name.clone(), self.files[index].path.clone());
            let content = std::fs::read(&path).ok();
            if self.seen.get(&name) == Some(&content) {
                continue;
            }
            self.seen.insert(name.clone(), content.clone());
            match content {
                None => self.emit(Event::FileDeleted { file: name }),
                Some(content) => self.on_file_changed(container, index, &String::from_utf8_lossy(&content)).await?,
            }
        }
        Ok(())
    }

    async fn on_file_changed(&mut self, container: &Container, index: usize, text: &str) -> Result<()> {
        let (name, kind) = (self.files[index].name.clone(), self.files[index].kind);
        let mut lines = Vec::new();
        if kind == Kind::Pip {
            let packages = self.nb.packages();
            let installed = packages.installed(&packages.list(container, false).await?);
            let compared = requirements::compare(text, &installed);
            if compared.iter().all(|l| l.status == Status::Satisfied) {
                self.emit(Event::AlreadySatisfied { file: name });
                return Ok(());
            }
            lines = compared.iter().map(ToString::to_string).collect();
        }
        self.emit(Event::FileChanged { file: name.clone(), lines });
        if !self.confirm(&format!("install {name} now and take a snapshot?")).await? {
            return Ok(());
        }
        let file = Path::new(&name);
        let command = kind.install_command(&file.file_name().unwrap_or_default().to_string_lossy());
        let folder = file.parent().filter(|p| !p.as_os_str().is_empty());
        let mount = &self.nb.project.manifest.mount;
        let working_dir = folder.map_or_else(|| mount.clone(), |f| format!("{mount}/{}", f.display()));
        self.emit(Event::InstallStarted { file: name.clone(), command: command.join(" "), at_ms: unix_millis() });
        let env = RunEnv::new(container.home.as_ref(), &container.name).exec_env()?;
        // Under `--json` the installer's stdout goes to stderr, between the event lines.
        let console = self.nb.console.with_json(self.options.json);
        let output = |chunk: LogChunk| console.container_output(chunk.stream(), chunk.bytes());
        let outcome = self.nb.engine.exec(&container.exec_target(&env), &working_dir, &command, output).await?;
        if outcome.exit_code != 0 {
            self.emit(Event::InstallFailed { file: name, exit_code: outcome.exit_code });
            return Ok(());
        }
        self.emit(Event::Installed { file: name.clone() });
        self.snapshot(&format!("jenv watch: installed {name}")).await
    }

    /// Looks for installs made inside the notebook when a site-packages folder changed.
    async fn on_poll(&mut self, container: &Container) -> Result<()> {
        let dirs = self.site_dirs(container).await?;
        let stamps = self.nb.packages().stamps(container, &dirs).await?;
        // Times have one-second resolution: after a move, look once more in case a second
        // install landed within the same second.
        let moved = stamps != self.stamps;
        let look = moved || self.stamps.is_empty() || self.recheck;
        self.recheck = moved;
        self.stamps = stamps;
        if !look {
            return Ok(());
        }
        let changes = self.nb.packages().pending_changes(container).await?;
        if changes.is_empty() || changes == self.offered {
            return Ok(());
        }
        self.emit(Event::PackagesChanged { changes: changes.iter().map(ToString::to_string).collect() });
        if self.confirm("take a snapshot so they survive the next `jenv down`?").await? {
            self.snapshot("jenv watch: packages installed in the notebook").await?;
        } else {
            self.offered = changes;
        }
        Ok(())
    }

    /// The folders whose modification time moves when a package is installed or removed.
    async fn site_dirs(&mut self, container: &Container) -> Result<Vec<String>> {
        if let Some((id, dirs)) = &self.site_dirs
            && *id == container.id
        {
            return Ok(dirs.clone());
        }
        let dirs = self.nb.packages().site_dirs(container).await?;
        self.site_dirs = Some((container.id.clone(), dirs.clone()));
        Ok(dirs)
    }

    async fn snapshot(&mut self, message: &str) -> Result<()> {
        let snapshot = crate::snapshot::take(self.nb, message, false).await?;
        self.offered.clear();
        self.emit(Event::Snapshot {
            tag: snapshot.tag,
            size_added: snapshot.size_added,
            commit_ms: snapshot.committing.as_millis(),
        });
        Ok(())
    }

    /// `--yes` says yes; a terminal is asked; without one, nothing is done and the way to act
    /// unattended is named.
    async fn confirm(&mut self, question: &str) -> Result<bool> {
        if self.options.yes {
            return Ok(true);
        }
        if !self.nb.console.interactive() {
            self.emit(Event::Skipped {
                reason: "no terminal to ask; run `jenv watch --yes` to install and snapshot unattended".into(),
            });
            return Ok(false);
        }
        let yes = self.nb.console.confirm(question).await?;
        if !yes {
            self.emit(Event::Skipped { reason: "skipped; still watching".into() });
        }
        Ok(yes)
    }
}

fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::InitOptions;
    use crate::manifest::user_config::WatchDefaults;

    #[test]
    fn yes_comes_from_the_flag_or_either_config_and_ask_overrides_the_configs() {
        let mut manifest = Manifest::for_folder(Path::new("/work/folder"), InitOptions::default()).unwrap();
        let unset = UserConfig::default();
        let config_yes = UserConfig { watch: WatchDefaults { yes: Some(true) }, ..Default::default() };
        let yes = |yes, ask, manifest: &Manifest, config: &UserConfig| {
            Options::from_flags(yes, ask, false, manifest, config).yes
        };
        assert!(!yes(false, false, &manifest, &unset));
        assert!(yes(true, false, &manifest, &unset));
        assert!(yes(false, false, &manifest, &config_yes));
        assert!(!yes(false, true, &manifest, &config_yes));
        manifest.watch.yes = true;
        assert!(yes(false, false, &manifest, &unset));
        assert!(!yes(false, true, &manifest, &unset));
        assert!(Options::from_flags(false, false, true, &manifest, &unset).json);
    }
}
