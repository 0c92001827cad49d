//! One folder's notebook: its container on the engine, its lease in the state, and the steps
//! that move it between "absent" and "running".
//!
//! Beside this file: create.rs (a new container: the manifest resolved, ports leased, the
//! engine asked), image.rs (which image a new container starts from, pulled when published),
//! ready.rs (waiting for Jupyter to answer), leases.rs (the state file's view of the
//! notebooks), url.rs (the URL with its token), and the pure parts: ports, run_as, drift.
pub mod create;
pub mod drift;
pub mod forward;
pub mod idle;
pub mod image;
pub mod jupyter;
pub mod jupyter_config;
pub mod leases;
pub mod orphans;
pub mod ports;
pub mod ready;
pub mod run_as;
pub mod sample;
pub mod status;
pub mod url;

use std::path::Path;

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::engine::helper;
use crate::engine::types::{Container, ContainerSpec, StartError};
use crate::error::{Hinted, hinted};
use crate::manifest::{self, Project};
use crate::notebook::forward::Forwards;
use crate::packages::baseline::Packages;
use crate::state::env_lock::{EnvLock, EnvLocks};
use crate::state::run_env::RunEnv;
use crate::state::{EnvState, StateDir};
use crate::ui::Console;

const STOP_TIMEOUT_SECS: i32 = 10;

/// One folder's notebook: the project it serves, the engine it runs on, the state folder that
/// holds its lease and lock, and the console its steps report on. Every command about "this
/// folder's notebook" starts here.
pub struct Notebook {
    pub project: Project,
    pub state: StateDir,
    pub engine: Engine,
    pub console: Console,
}

/// Why a stopped notebook is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// To serve it again (`jenv up`).
    Restart,
    /// To count the installs no snapshot holds before it is recreated (its manifest changed).
    CheckInstalls,
}

/// A running notebook and its URL, as `up` reports it.
#[derive(Debug, Clone)]
pub struct LiveNotebook {
    pub container: Container,
    pub url: String,
}

impl Notebook {
    /// For commands that only read: the folder's manifest, whether trusted or not.
    pub async fn open(console: Console) -> Result<Notebook> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        Notebook::for_project(manifest::discover(&cwd)?, console).await
    }

    /// For commands that start or change a container (`jenv COMMAND`): the manifest must be
    /// trusted first (see manifest/trust.rs), and on a terminal the person is asked.
    pub async fn open_trusted(command: &str, console: Console) -> Result<Notebook> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let project = manifest::discover(&cwd)?;
        crate::manifest::trust::require(&project, &StateDir::locate()?, command, &console).await?;
        Notebook::for_project(project, console).await
    }

    pub async fn for_project(project: Project, console: Console) -> Result<Notebook> {
        let state = StateDir::locate()?;
        let engine = Engine::connect(&console).await?;
        Ok(Notebook { project, state, engine, console })
    }

    /// The environment's name, as the manifest gives it (its container is `jenv-NAME`).
    pub fn name(&self) -> &str {
        &self.project.manifest.name
    }

    /// This folder's container, if the engine has one. A container of the same name made for
    /// another folder (a copied manifest) is an error, never silently taken over.
    pub async fn find(&self) -> Result<Option<Container>> {
        let found = self.engine.list(Some(self.name())).await?.into_iter().next();
        if let Some(container) = &found
            && Path::new(&container.folder) != self.project.folder
        {
            hinted!(
                "environment `{}` belongs to {}, not {}",
                self.name(),
                container.folder,
                self.project.folder.display();
                "if this manifest was copied, give this folder its own name: `jenv init --force`"
            );
        }
        Ok(found)
    }

    /// The running container or a clear "start it first" error. A notebook paused while another
    /// jenv command (a snapshot) works on it is waited for.
    pub async fn find_running(&self) -> Result<Container> {
        let mut found = self.find().await?;
        if found.as_ref().is_some_and(Container::is_paused) && self.busy_with().is_some() {
            drop(self.lock("a jenv command waiting").await?);
            found = self.find().await?;
        }
        self.check_running(found)
    }

    /// `found` if it is running, else an error that says what it is instead, in jenv's words.
    pub fn check_running(&self, found: Option<Container>) -> Result<Container> {
        match found {
            Some(container) if container.is_running() => Ok(container),
            Some(container) if container.is_paused() => Err(self.paused_error()),
            _ => {
                hinted!("the notebook for {} is not running", self.project.folder.display(); "start it with `jenv up`")
            }
        }
    }

    fn paused_error(&self) -> anyhow::Error {
        Hinted::new(
            format!("the notebook {} is paused, and not by a jenv command", self.project.container_name()),
            format!(
                "something outside jenv paused it (`docker pause`, or a `docker commit` still running); resume it with `docker unpause {}`",
                self.project.container_name()
            ),
        )
        .into()
    }

    /// The notebook's installed packages and its changes since its baseline.
    pub fn packages(&self) -> Packages<'_> {
        let manifest = &self.project.manifest;
        Packages::new(&self.engine, &self.state, &manifest.name, &manifest.mount, self.project.container_name())
    }

    /// A short-lived container that is never listed as an environment.
    pub fn helper_spec(&self, image: &str, purpose: &str) -> ContainerSpec {
        helper::idle_spec(
            helper::name(&self.project.container_name(), purpose),
            image,
            &self.state.root.display().to_string(),
        )
    }

    /// Whether the stopped notebook stopped itself for idleness (its `idle_stop`): Jupyter said so
    /// as it exited.
    pub async fn stopped_for_idleness(&self) -> bool {
        let logs = self.engine.tail_logs(&self.project.container_name(), 20).await;
        logs.contains(jupyter_config::IDLE_EXIT_LOG)
    }

    /// Takes this folder's lock, waiting (and saying so) for another jenv command that holds it.
    pub async fn lock(&self, activity: &str) -> Result<EnvLock> {
        let on_wait = |holder: &str| self.console.progress(format_args!("waiting for {holder} to finish"));
        EnvLocks::new(&self.state).acquire(self.name(), activity, on_wait).await
    }

    /// What another jenv command is doing to this folder's notebook right now, if anything.
    pub fn busy_with(&self) -> Option<String> {
        EnvLocks::new(&self.state).busy(self.name())
    }

    /// The URL, with its token, that reaches the running `container`.
    pub async fn url_of(&self, container: &Container) -> Result<String> {
        url::url_of(&leases::known_tokens(&self.state), &self.engine, container).await
    }

    /// Makes sure the notebook runs and answers; returns it. Idempotent, also when several
    /// `jenv up` run at once: one creates the container, the others wait for it and find it.
    pub async fn up(&self) -> Result<LiveNotebook> {
        let (container, fresh) = match self.find().await? {
            Some(container) if container.is_running() => (container, false),
            _ => {
                let lock = self.lock("jenv up").await?;
                match self.find().await? {
                    Some(container) if container.is_running() => (container, false),
                    Some(container) if container.is_paused() => return Err(self.paused_error()),
                    Some(container) => (self.start_stopped(&lock, container, Purpose::Restart).await?, false),
                    None => (self.create().await?, true),
                }
            }
        };
        self.open_forward(&container).await?;
        let url = self.url_of(&container).await?;
        let live = LiveNotebook { container, url };
        if fresh {
            // A container just created from its image holds exactly the image's packages: list
            // them while Jupyter starts. (A restarted one may hold installs, so it never does.)
            let packages = self.packages();
            let (ready, _) = tokio::join!(self.wait_ready(&live.container), packages.remember_image(&live.container));
            ready?;
        } else {
            self.wait_ready(&live.container).await?;
        }
        Ok(live)
    }

    /// Stops and removes the container and releases its lease, keeping the ports as preference.
    pub async fn down(&self) -> Result<bool> {
        let lock = self.lock("jenv down").await?;
        self.down_holding(&lock).await
    }

    /// [`Notebook::down`] for a caller that already holds the folder's lock.
    pub async fn down_holding(&self, _lock: &EnvLock) -> Result<bool> {
        let existed = self.find().await?.is_some();
        let name = self.project.container_name();
        self.engine.stop(&name, STOP_TIMEOUT_SECS).await?;
        self.engine.remove(&name).await?;
        Forwards::new(&self.state).close(self.name())?;
        // The token and the env values have no container to serve any more.
        RunEnv::new(&self.state.root, self.name()).remove()?;
        // The ports stay in the state as the folder's preference for next time.
        self.update_state(|state| state.leased = false)?;
        Ok(existed)
    }

    /// Changes a field of this folder's entry in the state file, under the state lock.
    pub fn update_state(&self, change: impl FnOnce(&mut EnvState)) -> Result<()> {
        let lock = self.state.lock()?;
        let mut state = leases::load_state(&lock, None, &self.console)?;
        if let Some(entry) = state.environments.get_mut(self.name()) {
            change(entry);
            lock.write(&state)?;
        }
        Ok(())
    }

    /// Starts the stopped container again, under the folder's lock; `purpose` words the wait
    /// and a failure.
    pub async fn start_stopped(&self, _lock: &EnvLock, container: Container, purpose: Purpose) -> Result<Container> {
        let spinner = self.console.spinner(match purpose {
            Purpose::Restart => "starting the stopped notebook",
            Purpose::CheckInstalls => "starting the stopped notebook to check for installs no snapshot holds",
        });
        let started = self.engine.start(&self.project.container_name()).await;
        spinner.finish();
        match (started, purpose) {
            (Ok(()), _) => Ok(self.find().await?.unwrap_or(container)),
            (Err(StartError::PortTaken(reason)), Purpose::Restart) => hinted!(
                "the stopped notebook cannot start again: {reason}";
                "run `jenv down` then `jenv up` to start it on free ports"
            ),
            (Err(StartError::PortTaken(reason)), Purpose::CheckInstalls) => hinted!(
                "cannot start the stopped notebook to check it: {reason}";
                "free that port, or drop the stopped notebook with `jenv down --discard`"
            ),
            (Err(StartError::Other(err)), _) => Err(err),
        }
    }

    /// The settings a container differs in from the manifest now (empty when it matches, or
    /// when it predates the fingerprint label).
    pub fn drift(&self, container: &Container) -> Result<Vec<String>> {
        let Some(created) = drift::from_label(&container.fingerprint) else { return Ok(Vec::new()) };
        let resolved = self.resolve()?;
        let started_with = RunEnv::new(container.home.as_ref(), &container.name).variables()?;
        Ok(drift::differences(&created, &resolved.fingerprint, &started_with, &resolved.env))
    }

    /// On an ssh engine the notebook's ports are on the remote host's loopback: opens (or keeps)
    /// jenv's ssh forward to them. Nothing to do on a local engine.
    async fn open_forward(&self, container: &Container) -> Result<()> {
        let endpoint = self.engine.endpoint();
        if endpoint.is_ssh() {
            Forwards::new(&self.state).ensure(&container.name, &endpoint.host, &container.host_ports()).await?;
        }
        Ok(())
    }

    /// Waits until Jupyter answers. If the container dies or the deadline passes, shows its last
    /// log lines and removes it, so no half-started notebook is left behind.
    async fn wait_ready(&self, container: &Container) -> Result<()> {
        let port = url::reachable_port(&self.engine, container)?;
        let Err(reason) = ready::wait(&self.engine, container, port, &self.console).await else { return Ok(()) };
        let logs = self.engine.tail_logs(&self.project.container_name(), 20).await;
        self.down().await?;
        Err(ready::failed(&reason, &logs))
    }
}
