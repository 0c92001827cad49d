//! A folder's environment: its container on the engine, its lease in the state, and the steps
//! that move it between "absent" and "running".
pub mod drift;
pub mod forward;
pub mod jupyter;
pub mod orphans;
pub mod ports;
pub mod run_as;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use bollard::models::{ImageConfig, ImageInspect};

use crate::engine::{ContainerSpec, Engine, EnvContainer, Limits, StartError, label, ports_label};
use crate::error::{Hinted, hinted};
use crate::manifest::keys::{self, Resources, Ui};
use crate::manifest::{self, JUPYTER_PORT, Project};
use crate::notebook::forward::Forwards;
use crate::notebook::run_as::RunAs;
use crate::state::env_lock::{OpLock, OpLocks};
use crate::state::run_env::{self, RunEnv};
use crate::state::{EnvRecord, Loaded, State, StateDir, StateLock};
use crate::ui::progress::Spinner;

/// How often readiness is polled; short, so `jenv up` returns soon after Jupyter answers.
const READY_POLL: Duration = Duration::from_millis(50);
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts at finding ports when the engine reports a chosen one taken after all.
const PORT_ATTEMPTS: usize = 16;
const STOP_TIMEOUT_SECS: i32 = 10;

/// Everything a command about "this folder's environment" needs.
pub struct Context {
    pub project: Project,
    pub state: StateDir,
    pub engine: Engine,
}

/// A running notebook, as `up`, `url` and `status` report it.
#[derive(Debug, Clone)]
pub struct Running {
    pub container: EnvContainer,
    pub url: String,
}

impl Context {
    /// For commands that only read: the folder's manifest, whether trusted or not.
    pub async fn load() -> Result<Context> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        Context::for_project(manifest::discover(&cwd)?).await
    }

    /// For commands that start or change a container (`jenv COMMAND`): the manifest must be
    /// trusted first (see manifest/trust.rs).
    pub async fn load_trusted(command: &str) -> Result<Context> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let project = manifest::discover(&cwd)?;
        crate::manifest::trust::require(&project, &StateDir::locate()?, command)?;
        Context::for_project(project).await
    }

    pub async fn for_project(project: Project) -> Result<Context> {
        let state = StateDir::locate()?;
        let engine = Engine::connect().await?;
        Ok(Context { project, state, engine })
    }

    pub fn env_name(&self) -> &str {
        &self.project.manifest.name
    }

    /// This folder's container, if the engine has one. A container of the same name made for
    /// another folder (a copied manifest) is an error, never silently taken over.
    pub async fn container(&self) -> Result<Option<EnvContainer>> {
        let found = self.engine.list(Some(self.env_name())).await?.into_iter().next();
        if let Some(container) = &found
            && Path::new(&container.folder) != self.project.folder
        {
            hinted!(
                "if this manifest was copied, give this folder its own name: `jenv init --force`",
                "environment `{}` belongs to {}, not {}",
                self.env_name(),
                container.folder,
                self.project.folder.display()
            );
        }
        Ok(found)
    }

    /// The running container or a clear "start it first" error. A notebook paused while another
    /// jenv command (a snapshot) works on it is waited for.
    pub async fn running_container(&self) -> Result<EnvContainer> {
        let mut found = self.container().await?;
        if found.as_ref().is_some_and(EnvContainer::is_paused) && self.busy().is_some() {
            drop(self.op_lock("a jenv command waiting").await?);
            found = self.container().await?;
        }
        self.require_running(found)
    }

    /// `found` if it is running, else an error that says what it is instead, in jenv's words.
    pub fn require_running(&self, found: Option<EnvContainer>) -> Result<EnvContainer> {
        match found {
            Some(container) if container.is_running() => Ok(container),
            Some(container) if container.is_paused() => Err(self.paused_outside_jenv()),
            _ => {
                hinted!("start it with `jenv up`", "the notebook for {} is not running", self.project.folder.display())
            }
        }
    }

    fn paused_outside_jenv(&self) -> anyhow::Error {
        Hinted::new(
            format!("the notebook {} is paused, and not by a jenv command", self.project.container_name()),
            format!(
                "something outside jenv paused it (`docker pause`, or a `docker commit` still running); resume it with `docker unpause {}`",
                self.project.container_name()
            ),
        )
        .into()
    }

    /// Takes this environment's operation lock, waiting for another jenv command that holds it.
    pub async fn op_lock(&self, activity: &str) -> Result<OpLock> {
        OpLocks::new(&self.state).acquire(self.env_name(), activity).await
    }

    /// What another jenv command is doing to this environment right now, if anything.
    pub fn busy(&self) -> Option<String> {
        OpLocks::new(&self.state).busy(self.env_name())
    }

    pub async fn running(&self, container: EnvContainer) -> Result<Running> {
        let url = url_of(&known_tokens(&self.state), &self.engine, &container).await?;
        Ok(Running { container, url })
    }

    /// Makes sure the notebook runs and answers; returns it. Idempotent, also when several
    /// `jenv up` run at once: one creates the container, the others wait for it and find it.
    pub async fn up(&self) -> Result<Running> {
        let (container, fresh) = match self.container().await? {
            Some(container) if container.is_running() => (container, false),
            _ => {
                let _op = self.op_lock("jenv up").await?;
                match self.container().await? {
                    Some(container) if container.is_running() => (container, false),
                    Some(container) if container.is_paused() => return Err(self.paused_outside_jenv()),
                    Some(container) => (self.restart(container).await?, false),
                    None => (self.create().await?, true),
                }
            }
        };
        self.open_forward(&container).await?;
        let running = self.running(container).await?;
        if fresh {
            // A container just created from its image holds exactly the image's packages: list
            // them while Jupyter starts. (A restarted one may hold installs, so it never does.)
            let (ready, _) =
                tokio::join!(self.wait_ready(&running.container), self.remember_image_packages(&running.container));
            ready?;
        } else {
            self.wait_ready(&running.container).await?;
        }
        Ok(running)
    }

    /// Stops and removes the container and releases its lease, keeping the ports as preference.
    pub async fn down(&self) -> Result<bool> {
        let op = self.op_lock("jenv down").await?;
        self.down_locked(&op).await
    }

    /// [`Context::down`] for a caller that already holds the folder's operation lock.
    pub async fn down_locked(&self, _op: &OpLock) -> Result<bool> {
        let existed = self.container().await?.is_some();
        let name = self.project.container_name();
        self.engine.stop(&name, STOP_TIMEOUT_SECS).await?;
        self.engine.remove(&name).await?;
        Forwards::new(&self.state).close(self.env_name())?;
        // The token and the env values have no container to serve any more.
        RunEnv::new(&self.state.root, self.env_name()).remove()?;
        // The ports stay in the record as the folder's preference for next time.
        self.update_record(|record| record.leased = false)?;
        Ok(existed)
    }

    /// Changes a field of this folder's state record under the lock.
    pub fn update_record(&self, change: impl FnOnce(&mut EnvRecord)) -> Result<()> {
        let lock = self.state.lock()?;
        let mut state = load_state(&lock, None)?;
        if let Some(record) = state.environments.get_mut(self.env_name()) {
            change(record);
            lock.write(&state)?;
        }
        Ok(())
    }

    /// The containers whose leases live in this state folder (tests and users may have several).
    fn own(&self, containers: &[EnvContainer]) -> Vec<EnvContainer> {
        let home = self.state.root.to_string_lossy();
        containers.iter().filter(|c| c.home == home).cloned().collect()
    }

    async fn restart(&self, container: EnvContainer) -> Result<EnvContainer> {
        let spinner = Spinner::new("starting the stopped notebook");
        let started = self.engine.start(&self.project.container_name()).await;
        spinner.finish();
        match started {
            Ok(()) => Ok(self.container().await?.unwrap_or(container)),
            Err(StartError::PortTaken(reason)) => hinted!(
                "run `jenv down` then `jenv up` to start it on free ports",
                "the stopped notebook cannot start again: {reason}"
            ),
            Err(StartError::Other(err)) => Err(err),
        }
    }

    /// Creates and starts the container under the state lock, so no other `jenv up` can lease
    /// the same host ports between choosing them and the engine binding them.
    async fn create(&self) -> Result<EnvContainer> {
        // Everything the manifest names outside the image is checked before anything starts.
        let settings = self.settings()?;
        let (image, inspected) = self.choose_image().await?;
        let image_config = inspected.config.clone().unwrap_or_default();
        let image_env = image_config.env.clone().unwrap_or_default();
        let run_as = run_as::decide(&image_env, run_as::host_ids());
        let ui = self.project.manifest.ui.unwrap_or(if run_as::is_docker_stacks(&image_env) {
            Ui::Lab
        } else {
            Ui::Notebook
        });
        let range = crate::manifest::user_config::UserConfig::load()?.port_range()?;

        let lock = self.state.lock()?;
        let all = self.engine.list(None).await?;
        let mut state = load_state(&lock, Some(&self.own(&all)))?;
        reclaim_leases(&mut state, &all);
        let mut taken: BTreeSet<u16> = state.leased_ports_except(self.env_name()).into_iter().collect();
        taken.extend(all.iter().flat_map(|c| c.ports.values().map(|(_, host)| *host)));

        let previous = state.environments.get(self.env_name());
        let token = match previous {
            Some(record) if !record.token.is_empty() => record.token.clone(),
            _ => jupyter::new_token()?,
        };
        let previous_ports = previous.map(|r| r.ports.clone()).unwrap_or_default();
        let wanted = &self.project.manifest.container_ports();

        for _ in 0..PORT_ATTEMPTS {
            let host_ports = ports::allocate(wanted, &previous_ports, &taken, range, ports::is_bindable)?;
            let started_as = StartedAs { image: &image, config: &image_config, run_as: &run_as, ui };
            let spec = self.spec(&started_as, &settings, &token, &host_ports)?;
            self.engine.create(&spec).await?;
            if let Err(err) = self.check_remote_folder(&spec.name).await {
                self.engine.remove(&spec.name).await?;
                return Err(err);
            }
            if let Some(claim) = &run_as.claim
                && let Err(err) = self.engine.own_folder(&spec.name, &claim.path, claim.uid, claim.gid).await
            {
                self.engine.remove(&spec.name).await?;
                return Err(err);
            }
            match self.engine.start(&spec.name).await {
                Ok(()) => {
                    let record = EnvRecord {
                        folder: self.project.folder.clone(),
                        token,
                        ports: host_ports,
                        leased: true,
                        baseline: inspected.id,
                    };
                    state.environments.insert(self.env_name().to_string(), record);
                    lock.write(&state)?;
                    drop(lock);
                    return self.container().await?.context("the container vanished right after it started");
                }
                Err(StartError::PortTaken(_)) => {
                    self.engine.remove(&spec.name).await?;
                    taken.extend(host_ports.values());
                }
                Err(StartError::Other(err)) => {
                    self.engine.remove(&spec.name).await?;
                    return Err(err);
                }
            }
        }
        hinted!(
            "stop other programs using ports, or set JENV_PORT_RANGE=LOW-HIGH",
            "the engine refused every port jenv tried"
        )
    }

    /// The folder's own committed image when it has one (pulled from its registry if it is
    /// published there, else built from its `[build]` files), else the base image (pulled if missing).
    async fn choose_image(&self) -> Result<(String, ImageInspect)> {
        let own = format!("{}:latest", self.project.manifest.repository);
        if let Some(inspected) = self.engine.inspect_image(&own).await? {
            return Ok((own, inspected));
        }
        // Another machine may have pushed the folder's snapshot to the registry it names.
        if self.pull_if_published().await?
            && let Some(inspected) = self.engine.inspect_image(&own).await?
        {
            return Ok((own, inspected));
        }
        // Files that build it (`jenv export` writes them): a clone starts with `jenv up` alone.
        if self.project.manifest.build.is_some() {
            self.build_from_files("built").await?;
            let inspected = self.engine.inspect_image(&own).await?.context("the built image vanished")?;
            return Ok((own, inspected));
        }
        let base = self.project.manifest.image.clone();
        let inspected = match self.engine.inspect_image(&base).await? {
            Some(inspected) => inspected,
            None => {
                self.engine.pull(&base).await?;
                self.engine.inspect_image(&base).await?.context("the pulled image vanished")?
            }
        };
        Ok((base, inspected))
    }

    /// What the manifest asks for beyond the image, resolved against this machine: the env
    /// file read, extra mount sources found. Fails, naming the problem, before anything starts.
    pub fn settings(&self) -> Result<Settings> {
        let manifest = &self.project.manifest;
        let folder = &self.project.folder;
        let env = manifest.environment(folder)?;
        let mounts = manifest.mounts.iter().map(|m| m.resolve(folder)).collect::<Result<Vec<_>>>()?;
        let fingerprint = drift::fingerprint(manifest, &env, &mounts);
        Ok(Settings { env, mounts, fingerprint })
    }

    /// The settings a container differs in from the manifest now (empty when it matches, or
    /// when it predates the fingerprint label).
    pub fn drift(&self, container: &EnvContainer) -> Result<Vec<String>> {
        let Some(created) = drift::from_label(&container.settings) else { return Ok(Vec::new()) };
        let settings = self.settings()?;
        let started_with = RunEnv::of(container).variables()?;
        Ok(drift::differences(&created, &settings.fingerprint, &started_with, &settings.env))
    }

    fn spec(
        &self,
        started_as: &StartedAs,
        settings: &Settings,
        token: &str,
        host_ports: &BTreeMap<String, u16>,
    ) -> Result<ContainerSpec> {
        let StartedAs { image, config, run_as, ui } = *started_as;
        let manifest = &self.project.manifest;
        let folder = self.project.folder.to_string_lossy().to_string();
        let container_ports = manifest.container_ports();
        let ports_by_name: BTreeMap<String, (u16, u16)> =
            container_ports.iter().map(|(name, container)| (name.clone(), (*container, host_ports[name]))).collect();
        let labels = HashMap::from([
            (label::MANAGED.to_string(), "true".to_string()),
            (label::NAME.to_string(), manifest.name.clone()),
            (label::FOLDER.to_string(), folder.clone()),
            (label::HOME.to_string(), self.state.root.to_string_lossy().to_string()),
            (label::PORTS.to_string(), ports_label(&ports_by_name)),
            (label::USER.to_string(), run_as.exec_user.clone()),
            (label::MOUNT.to_string(), manifest.mount.clone()),
            (label::UI.to_string(), ui.path().to_string()),
            (label::SETTINGS.to_string(), drift::to_label(&settings.fingerprint)),
        ]);
        let mut vars = self.run_vars(run_as, settings);
        vars.push((run_env::TOKEN.to_string(), token.to_string()));
        let vars_file = RunEnv::new(&self.state.root, self.env_name()).write(&vars)?;
        let mut binds = vec![(folder, manifest.mount.clone(), false)];
        binds.push((vars_file.display().to_string(), run_env::TARGET.to_string(), true));
        for (mount, source) in manifest.mounts.iter().zip(&settings.mounts) {
            binds.push((source.display().to_string(), mount.target.clone(), mount.read_only));
        }
        if run_as.allow_root {
            let config = run_as::write_allow_root_config(&self.state, self.env_name(), &manifest.mount)?;
            binds.push((config.to_string_lossy().to_string(), run_as::ALLOW_ROOT_CONFIG_TARGET.to_string(), true));
        }
        let entrypoint = config.entrypoint.as_deref().unwrap_or_default();
        let cmd = config.cmd.as_deref().unwrap_or_default();
        Ok(ContainerSpec {
            name: self.project.container_name(),
            image: image.to_string(),
            user: run_as.user.clone(),
            // Nothing beyond the image's own: jenv's variables come from the file, see state/run_env.rs.
            env: Vec::new(),
            labels,
            binds,
            working_dir: run_as.working_dir.clone().unwrap_or_else(|| manifest.mount.clone()),
            ports: container_ports.iter().map(|(name, container)| (*container, host_ports[name])).collect(),
            tmpfs: vec!["/tmp".to_string()],
            entrypoint: Some(run_env::wrapped_entrypoint(entrypoint, &run_as.command(cmd, &manifest.mount))),
            cmd: None,
            limits: limits(&manifest.resources)?,
        })
    }

    /// The variables a container of this environment runs with (the token aside): the user
    /// mapping, the allow-root config, then the manifest's `[env]` and env file.
    pub fn run_vars(&self, run_as: &RunAs, settings: &Settings) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = run_as
            .env
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        if run_as.allow_root {
            vars.push(("JUPYTER_CONFIG_PATH".to_string(), run_as::ALLOW_ROOT_CONFIG_TARGET.to_string()));
        }
        vars.extend(settings.env.iter().cloned());
        vars
    }

    /// On an ssh engine the notebook's ports are on the remote host's loopback: opens (or keeps)
    /// jenv's ssh forward to them. Nothing to do on a local engine.
    async fn open_forward(&self, container: &EnvContainer) -> Result<()> {
        let endpoint = self.engine.endpoint();
        if endpoint.is_ssh() {
            let ports = container.ports.iter().map(|(name, (_, host))| (name.clone(), *host)).collect();
            Forwards::new(&self.state).ensure(&container.name, &endpoint.host, &ports).await?;
        }
        Ok(())
    }

    /// On an engine on another machine, the folder is mounted by its path there: make sure that
    /// path holds this project (its manifest, as here), never an empty or unrelated folder.
    async fn check_remote_folder(&self, container: &str) -> Result<()> {
        if !self.engine.endpoint().is_remote() {
            return Ok(());
        }
        let mount = &self.project.manifest.mount;
        let there = self.engine.read_file(container, &format!("{mount}/{}", manifest::FILE_NAME)).await?;
        if there.as_deref() == Some(self.project.text.as_bytes()) {
            return Ok(());
        }
        let what = if there.is_some() { "a different .jupyter-env" } else { "no .jupyter-env" };
        Err(Hinted::new(
            format!(
                "{} on the engine's host ({}) holds {what}: it is not this project, so nothing was started",
                self.project.folder.display(),
                self.engine.endpoint().host
            ),
            "jenv mounts the folder by its path on the engine's host: share it there (a shared home, NFS) or check the project out at the same path",
        )
        .into())
    }

    /// Polls Jupyter's `/api` until it answers. If the container dies or the deadline passes,
    /// shows its last log lines and removes it, so no half-started notebook is left behind.
    async fn wait_ready(&self, container: &EnvContainer) -> Result<()> {
        let port = reachable_port(&self.engine, container)?;
        let deadline = Instant::now() + ready_timeout();
        let spinner = Spinner::new("waiting for Jupyter to answer");
        let outcome = tokio::select! {
            outcome = self.poll_ready(container, port, deadline) => outcome,
            _ = crate::ui::signals::interrupted() => Err(anyhow::anyhow!("interrupted before the notebook was ready")),
        };
        spinner.finish();
        if let Err(reason) = outcome {
            let logs = self.engine.tail_logs(&self.project.container_name(), 20).await;
            self.down().await?;
            return Err(Hinted::new(
                format!("{reason}; its last log lines:\n{}", indent(&logs)),
                "fix the image or manifest and run `jenv up` again (the container was removed)",
            )
            .into());
        }
        Ok(())
    }

    async fn poll_ready(&self, container: &EnvContainer, port: u16, deadline: Instant) -> Result<()> {
        // A fixed rate, not a sleep after each probe, so probes do not drift later and later.
        let mut ticks = tokio::time::interval(READY_POLL);
        let mut polls = 0u32;
        let here = self.engine.endpoint().ports_reachable_here();
        loop {
            ticks.tick().await;
            if here && jupyter::is_ready(port).await {
                return Ok(());
            }
            // A TCP engine on another machine publishes on its own loopback: ask from inside.
            if !here && polls.is_multiple_of(5) && self.answers_inside(container).await {
                return Ok(());
            }
            polls += 1;
            // Asking the engine is dearer than a TCP connect, so check for a dead container less often.
            if polls.is_multiple_of(10) {
                let state = self.engine.inspect_container(&self.project.container_name()).await?;
                let running = state.and_then(|s| s.state).and_then(|s| s.running).unwrap_or(false);
                if !running {
                    anyhow::bail!("the notebook container stopped before Jupyter answered");
                }
            }
            if Instant::now() >= deadline {
                anyhow::bail!("Jupyter did not answer on port {port} within {}s", ready_timeout().as_secs());
            }
        }
    }

    /// Whether Jupyter answers on its container port, asked from inside the container (with
    /// the image's Python, which every Jupyter image has).
    async fn answers_inside(&self, container: &EnvContainer) -> bool {
        let Some((port, _)) = container.ports.get(JUPYTER_PORT) else { return false };
        let probe = format!(
            "import urllib.request as r, urllib.error as e\ntry: r.urlopen('http://127.0.0.1:{port}/api', timeout=2)\nexcept e.HTTPError: pass"
        );
        let target = container.exec_target(&[]);
        matches!(self.engine.exec_capture(&target, &["python3", "-c", &probe]).await, Ok((0, _)))
    }
}

/// What a new container starts from: the image, its config, who it runs as and the UI.
#[derive(Clone, Copy)]
struct StartedAs<'a> {
    image: &'a str,
    config: &'a ImageConfig,
    run_as: &'a RunAs,
    ui: Ui,
}

/// The manifest's settings resolved for one container; see [`Context::settings`].
pub struct Settings {
    /// Variables from the env file and `[env]`, `[env]` winning.
    pub env: Vec<(String, String)>,
    /// The extra mounts' sources as host paths, in manifest order.
    pub mounts: Vec<PathBuf>,
    pub fingerprint: drift::Fingerprint,
}

fn limits(resources: &Resources) -> Result<Limits> {
    let bytes = |key: &str, text: &Option<String>| text.as_deref().map(|t| keys::parse_bytes(key, t)).transpose();
    Ok(Limits {
        memory: bytes("memory", &resources.memory)?,
        nano_cpus: resources.nano_cpus(),
        shm_size: bytes("shm_size", &resources.shm_size)?,
        gpus: resources.gpus.as_ref().map(|g| g.request()),
    })
}

fn ready_timeout() -> Duration {
    crate::manifest::user_config::seconds_from_env("JENV_READY_TIMEOUT", DEFAULT_READY_TIMEOUT)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Each environment's token as the state file remembers it (empty when unreadable).
pub fn known_tokens(state: &StateDir) -> BTreeMap<String, String> {
    match state.read() {
        Loaded::Ok(s) => s.environments.into_iter().map(|(name, record)| (name, record.token)).collect(),
        Loaded::Corrupt(_) => BTreeMap::new(),
    }
}

/// The URL of a running container: token from the state, else from the container itself.
pub async fn url_of(tokens: &BTreeMap<String, String>, engine: &Engine, container: &EnvContainer) -> Result<String> {
    let port = reachable_port(engine, container)?;
    let token = match tokens.get(&container.name).filter(|t| !t.is_empty()) {
        Some(token) => token.clone(),
        None => match RunEnv::of(container).token() {
            Some(token) => token,
            // A container from before jenv kept its variables in a file.
            None => token_from_engine(engine, &container.id).await?.unwrap_or_default(),
        },
    };
    Ok(jupyter::url(port, &container.ui, &token))
}

/// The port on this machine that reaches the notebook: its host port, or on an ssh engine the
/// local end of jenv's forward (the remote port when no forward runs).
fn reachable_port(engine: &Engine, container: &EnvContainer) -> Result<u16> {
    let port = container.host_port(JUPYTER_PORT).context("the container has no jupyter port label")?;
    if !engine.endpoint().is_ssh() {
        return Ok(port);
    }
    let forwards = Forwards::new(&StateDir { root: PathBuf::from(&container.home) });
    Ok(forwards.live(&container.name)?.and_then(|f| f.local_port(port)).unwrap_or(port))
}

async fn token_from_engine(engine: &Engine, container: &str) -> Result<Option<String>> {
    let env = engine.inspect_container(container).await?.and_then(|c| c.config).and_then(|c| c.env).unwrap_or_default();
    Ok(env.iter().find_map(|e| e.strip_prefix("JUPYTER_TOKEN=")).map(str::to_string))
}

/// Reads the state under the lock. A corrupt file is rebuilt from the engine's labels (when the
/// caller has listed them) with a warning: the engine is the source of truth.
fn load_state(lock: &StateLock, engine_view: Option<&[EnvContainer]>) -> Result<State> {
    match lock.read() {
        Loaded::Ok(state) => Ok(state),
        Loaded::Corrupt(reason) => {
            eprintln!("warning: {reason}; rebuilding it from the containers on the engine");
            let state = rebuild_state(engine_view.unwrap_or_default());
            lock.write(&state)?;
            Ok(state)
        }
    }
}

/// A state that says what the engine says. Tokens cannot be read from list results, so they are
/// left empty here and recovered from the containers when needed.
fn rebuild_state(containers: &[EnvContainer]) -> State {
    let mut state = State::default();
    for container in containers {
        let record = EnvRecord {
            folder: container.folder.clone().into(),
            token: String::new(),
            ports: container.ports.iter().map(|(name, (_, host))| (name.clone(), *host)).collect(),
            leased: true,
            baseline: Some(container.image_id.clone()),
        };
        state.environments.insert(container.name.clone(), record);
    }
    state
}

/// Leases whose container no longer exists are released (the ports stay as preferences).
fn reclaim_leases(state: &mut State, containers: &[EnvContainer]) {
    for (name, record) in state.environments.iter_mut() {
        if record.leased && !containers.iter().any(|c| &c.name == name) {
            record.leased = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, host: u16) -> EnvContainer {
        EnvContainer {
            id: format!("id-{name}"),
            name: name.into(),
            folder: format!("/p/{name}"),
            home: "/h".into(),
            state: "running".into(),
            image: "img".into(),
            image_id: "sha256:1".into(),
            user: "1000:100".into(),
            mount: "/home/jovyan/work".into(),
            ports: BTreeMap::from([("jupyter".to_string(), (8888, host))]),
            ui: "tree".into(),
            settings: String::new(),
        }
    }

    #[test]
    fn rebuilt_state_holds_the_engines_leases() {
        let state = rebuild_state(&[container("a", 8890), container("b", 8891)]);
        assert_eq!(state.leased_ports_except("none"), vec![8890, 8891]);
        assert_eq!(state.environments["a"].folder, Path::new("/p/a"));
    }

    #[test]
    fn leases_without_a_container_are_reclaimed() {
        let mut state = rebuild_state(&[container("a", 8890), container("gone", 8891)]);
        reclaim_leases(&mut state, &[container("a", 8890)]);
        assert!(state.environments["a"].leased);
        assert!(!state.environments["gone"].leased);
        assert_eq!(state.environments["gone"].ports["jupyter"], 8891, "kept as a preference");
    }
}
