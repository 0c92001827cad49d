//! A new container for a folder's notebook: the manifest resolved against this machine, host
//! ports leased under the state lock, the container created and started from the chosen image.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::engine::helper::remove_on_error;
use crate::engine::image_config::ImageConfig;
use crate::engine::labels::ContainerLabels;
use crate::engine::types::{Bind, Container, ContainerSpec, Limits, PublishedPort, StartError};
use crate::error::{Hinted, hinted};
use crate::manifest::keys::{self, JupyterUi, Resources};
use crate::manifest::user_config::UserConfig;
use crate::manifest::{self};
use crate::notebook::jupyter_config::{self, JupyterConfig};
use crate::notebook::run_as::{self, RunAs};
use crate::notebook::{Notebook, drift, image, jupyter, leases, ports};
use crate::state::EnvState;
use crate::state::run_env::{self, RunEnv};

/// Attempts at finding ports when the engine reports a chosen one taken after all.
const PORT_ATTEMPTS: usize = 16;

/// What the manifest asks for beyond the image, resolved against this machine; see
/// [`Notebook::resolve`].
pub struct Resolved {
    /// Variables from the env file and `[env]`, `[env]` winning.
    pub env: Vec<(String, String)>,
    /// The extra mounts' sources as host paths, in manifest order.
    pub mounts: Vec<PathBuf>,
    /// Seconds of idleness after which the notebook stops itself (manifest, else user config).
    pub idle_stop: Option<u64>,
    pub fingerprint: drift::Fingerprint,
}

/// What a new container starts from: the image, its config, who it runs as and the UI.
#[derive(Clone, Copy)]
struct StartedAs<'a> {
    image: &'a str,
    config: &'a ImageConfig,
    run_as: &'a RunAs,
    ui: JupyterUi,
}

impl Notebook {
    /// What the manifest asks for beyond the image, resolved against this machine: the env
    /// file read, extra mount sources found. Fails, naming the problem, before anything starts.
    pub fn resolve(&self) -> Result<Resolved> {
        let manifest = &self.project.manifest;
        let folder = &self.project.folder;
        let env = manifest.environment(folder)?;
        let mounts = manifest.mounts.iter().map(|m| m.resolve(folder)).collect::<Result<Vec<_>>>()?;
        let idle_stop = UserConfig::load(&self.console)?.idle_stop(manifest.idle_stop.as_deref())?;
        let fingerprint = drift::fingerprint(manifest, &env, &mounts, idle_stop);
        Ok(Resolved { env, mounts, idle_stop, fingerprint })
    }

    /// Creates and starts the container under the state lock, so no other `jenv up` can lease
    /// the same host ports between choosing them and the engine binding them.
    pub(super) async fn create(&self) -> Result<Container> {
        // Everything the manifest names outside the image is checked before anything starts.
        let resolved = self.resolve()?;
        let (image, inspected) = image::start_image(self).await?;
        let image_config = &inspected.config;
        let run_as = run_as::decide(image_config.env(), run_as::host_ids());
        let ui = self.project.manifest.ui.unwrap_or(if run_as::is_docker_stacks(image_config.env()) {
            JupyterUi::Lab
        } else {
            JupyterUi::Notebook
        });
        let range = UserConfig::load(&self.console)?.port_range()?;

        let lock = self.state.lock()?;
        let all = self.engine.list(None).await?;
        let mut state = leases::load_state(&lock, Some(&leases::of_this_home(&self.state, &all)), &self.console)?;
        leases::reclaim_leases(&mut state, &all);
        let mut taken = ports::taken(Some(&state), &all, self.name());

        let previous = state.environments.get(self.name());
        let token = match previous {
            Some(entry) if !entry.token.is_empty() => entry.token.clone(),
            _ => jupyter::new_token()?,
        };
        let previous_ports = previous.map(|r| r.ports.clone()).unwrap_or_default();
        let wanted = &self.project.manifest.container_ports();

        for _ in 0..PORT_ATTEMPTS {
            let host_ports = ports::allocate(wanted, &previous_ports, &taken, range, ports::is_bindable)?;
            let started_as = StartedAs { image: &image, config: image_config, run_as: &run_as, ui };
            let spec = self.container_spec(&started_as, &resolved, &token, &host_ports)?;
            self.engine.create(&spec).await?;
            let started = remove_on_error(&self.engine, &spec.name, async {
                self.check_remote_folder(&spec.name).await?;
                if let Some(claim) = &run_as.claim {
                    self.engine.own_folder(&spec.name, &claim.path, claim.uid, claim.gid).await?;
                }
                match self.engine.start(&spec.name).await {
                    Ok(()) => Ok(true),
                    Err(StartError::PortTaken(_)) => Ok(false),
                    Err(StartError::Other(err)) => Err(err),
                }
            })
            .await?;
            if !started {
                // Taken since it was chosen: try others.
                self.engine.remove(&spec.name).await?;
                taken.extend(host_ports.values());
                continue;
            }
            let entry = EnvState {
                folder: self.project.folder.clone(),
                token,
                ports: host_ports,
                leased: true,
                baseline: Some(inspected.id),
            };
            state.environments.insert(self.name().to_string(), entry);
            lock.write(&state)?;
            drop(lock);
            return self.find().await?.context("the container vanished right after it started");
        }
        hinted!(
            "the engine refused every port jenv tried";
            "stop other programs using ports, or set JENV_PORT_RANGE=LOW-HIGH"
        )
    }

    fn container_spec(
        &self,
        started_as: &StartedAs,
        resolved: &Resolved,
        token: &str,
        host_ports: &BTreeMap<String, u16>,
    ) -> Result<ContainerSpec> {
        let StartedAs { image, config, run_as, ui } = *started_as;
        let manifest = &self.project.manifest;
        let folder = self.project.folder.to_string_lossy().to_string();
        let container_ports = manifest.container_ports();
        let labels = ContainerLabels {
            name: manifest.name.clone(),
            folder: folder.clone(),
            home: self.state.root.to_string_lossy().to_string(),
            ports: container_ports
                .iter()
                .map(|(name, container)| {
                    (name.clone(), PublishedPort { container: *container, host: host_ports[name] })
                })
                .collect(),
            user: run_as.exec_user.clone(),
            mount: manifest.mount.clone(),
            ui: ui.path().to_string(),
            fingerprint: drift::to_label(&resolved.fingerprint),
        };
        let mut vars = run_vars(run_as, resolved);
        vars.push((run_env::TOKEN.to_string(), token.to_string()));
        let vars_file = RunEnv::new(&self.state.root, self.name()).write(&vars)?;
        let bind =
            |source: PathBuf, target: &str, read_only: bool| Bind { source, target: target.to_string(), read_only };
        let mut binds = vec![bind(self.project.folder.clone(), &manifest.mount, false)];
        binds.push(bind(vars_file, run_env::TARGET, true));
        for (mount, source) in manifest.mounts.iter().zip(&resolved.mounts) {
            binds.push(bind(source.clone(), &mount.target, mount.read_only));
        }
        let jupyter = jupyter_config(run_as, resolved, &manifest.mount);
        if jupyter.is_needed() {
            binds.push(bind(jupyter.write(&self.state, self.name())?, jupyter_config::TARGET, true));
        }
        let entrypoint = config.entrypoint();
        let cmd = config.cmd();
        Ok(ContainerSpec {
            name: self.project.container_name(),
            image: image.to_string(),
            user: run_as.user.clone(),
            // Nothing beyond the image's own: jenv's variables come from the file, see state/run_env.rs.
            env: Vec::new(),
            labels: labels.to_map(),
            binds,
            working_dir: run_as.working_dir.clone().unwrap_or_else(|| manifest.mount.clone()),
            ports: container_ports.iter().map(|(name, container)| (*container, host_ports[name])).collect(),
            tmpfs: vec!["/tmp".to_string()],
            entrypoint: Some(run_env::wrapped_entrypoint(entrypoint, &run_as.command(cmd, &manifest.mount))),
            cmd: None,
            limits: limits(&manifest.resources)?,
        })
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
}

/// The variables a container of this notebook runs with (the token aside): the user mapping,
/// the allow-root config, then the manifest's `[env]` and env file.
pub fn run_vars(run_as: &RunAs, resolved: &Resolved) -> Vec<(String, String)> {
    let mut vars = run_as.env.clone();
    if jupyter_config(run_as, resolved, "").is_needed() {
        vars.push(("JUPYTER_CONFIG_PATH".to_string(), jupyter_config::TARGET.to_string()));
    }
    vars.extend(resolved.env.iter().cloned());
    vars
}

/// The Jupyter config a notebook serving `mount` gets: leave to run as root, the idle stop.
fn jupyter_config(run_as: &RunAs, resolved: &Resolved, mount: &str) -> JupyterConfig {
    JupyterConfig { root_dir: run_as.allow_root.then(|| mount.to_string()), idle_stop: resolved.idle_stop }
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
