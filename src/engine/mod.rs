//! The only module that talks to the Docker Engine: the few operations jenv needs, in its words.
pub mod build;
pub mod dial;
pub mod endpoint;
pub mod reference;
pub mod registry;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::{Context, Result};
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, ContainerSummary, DeviceRequest, ExecConfig,
    HostConfig, ImageConfig, ImageInspect, ImageSummary, Mount, MountType, PortBinding, SystemVersion,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions,
    ListContainersOptions, ListImagesOptions, LogsOptions, PushImageOptions, RemoveContainerOptions,
    RemoveImageOptions, StopContainerOptions, TagImageOptions, UploadToContainerOptions,
};
use bollard::{API_DEFAULT_VERSION, BollardRequest, ClientVersion, Docker};
use futures_util::{Stream, StreamExt};

use crate::engine::endpoint::{Endpoint, Source};
use crate::error::Hinted;

/// Labels on every container jenv creates; they let the engine answer "which environments exist".
pub mod label {
    pub const MANAGED: &str = "jenv.managed";
    pub const NAME: &str = "jenv.name";
    pub const FOLDER: &str = "jenv.folder";
    pub const HOME: &str = "jenv.home";
    /// `name=container_port:host_port,...`
    pub const PORTS: &str = "jenv.ports";
    /// The `uid:gid` the notebook runs as; `exec` uses it too.
    pub const USER: &str = "jenv.user";
    pub const MOUNT: &str = "jenv.mount";
    /// The UI the URL opens: `lab` or `tree`.
    pub const UI: &str = "jenv.ui";
    /// The manifest settings the container was created with (see `notebook/drift.rs`).
    pub const SETTINGS: &str = "jenv.settings";
    /// Marks short-lived helper containers (`jenv.managed=helper`), never listed as environments.
    pub const HELPER: &str = "helper";
    /// On snapshot images: the tag, creation time (unix seconds) and message.
    pub const SNAPSHOT_TAG: &str = "jenv.snapshot.tag";
    pub const SNAPSHOT_CREATED: &str = "jenv.snapshot.created";
    pub const SNAPSHOT_MESSAGE: &str = "jenv.snapshot.message";
    /// On snapshot images: the `.jupyter-env.lock` record of what the image holds.
    pub const RECORD: &str = "jenv.record";
    /// What only a running container means; blanked on the images committed from it.
    pub const CONTAINER_ONLY: [&str; 5] = [PORTS, USER, MOUNT, UI, SETTINGS];
    /// Labels that hold this machine's paths: blanked on every image a push sends.
    pub const HOST: [&str; 2] = [FOLDER, HOME];
}

pub struct Engine {
    docker: Docker,
    endpoint: Endpoint,
    /// The engine's answer to `/version`, asked once when connecting.
    version: SystemVersion,
    /// Podman's Docker-compatible API, which differs where the code says so.
    podman: bool,
}

/// bollard's read/write timeout per request; long ones (pulls, commits) stream within it.
const CONNECT_TIMEOUT_SECS: u64 = 120;

/// The host part of request URLs sent through ssh (the engine ignores it; dial-stdio has no host).
const SSH_AUTHORITY: &str = "http://docker.ssh";

/// Everything needed to create one environment's container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub user: String,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// (host path, container path, read only)
    pub binds: Vec<(String, String, bool)>,
    pub working_dir: String,
    /// container port -> host port, published on 127.0.0.1 only.
    pub ports: BTreeMap<u16, u16>,
    /// Paths mounted as tmpfs: never part of a snapshot.
    pub tmpfs: Vec<String>,
    /// Overrides the image's entrypoint and command (helper containers).
    pub entrypoint: Option<Vec<String>>,
    /// Overrides only the image's command, keeping its entrypoint (helpers that start like the notebook).
    pub cmd: Option<Vec<String>>,
    pub limits: Limits,
}

/// Resource limits and devices, as `docker run --memory --cpus --shm-size --gpus` set them.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub shm_size: Option<i64>,
    /// GPUs: `(count, device IDs)`; a count of -1 means all.
    pub gpus: Option<(Option<i64>, Option<Vec<String>>)>,
}

/// What the engine says about itself.
#[derive(Debug, Clone)]
pub struct EngineFacts {
    /// `Docker Engine` or `Podman`.
    pub product: String,
    pub version: String,
    /// The newest API version the engine speaks, e.g. `1.41`.
    pub api_version: String,
    /// The API version jenv and the engine agreed on.
    pub spoken_api_version: String,
    /// e.g. `overlay2`, `fuse-overlayfs`, `vfs`.
    pub storage_driver: String,
}

/// A jenv container as the engine lists it, read back from its labels.
#[derive(Debug, Clone)]
pub struct EnvContainer {
    pub id: String,
    pub name: String,
    pub folder: String,
    pub home: String,
    pub state: String,
    pub image: String,
    pub image_id: String,
    pub user: String,
    pub mount: String,
    /// port name -> (container port, host port)
    pub ports: BTreeMap<String, (u16, u16)>,
    /// The URL path of its UI (`lab` or `tree`).
    pub ui: String,
    /// The manifest settings it was created with, as its label holds them.
    pub settings: String,
}

impl EnvContainer {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// Frozen by the engine: by a commit that pauses (as `docker commit` does), or by `docker pause`.
    pub fn is_paused(&self) -> bool {
        self.state == "paused"
    }

    /// This container as the target of a command run as its notebook user, with `env`.
    pub fn exec_target<'a>(&'a self, env: &'a [String]) -> ExecTarget<'a> {
        ExecTarget { container: &self.id, user: &self.user, env }
    }

    pub fn host_port(&self, name: &str) -> Option<u16> {
        self.ports.get(name).map(|(_, host)| *host)
    }

    fn from_summary(summary: ContainerSummary) -> Option<EnvContainer> {
        let labels = summary.labels.unwrap_or_default();
        let get = |key: &str| labels.get(key).cloned().unwrap_or_default();
        Some(EnvContainer {
            id: summary.id?,
            name: labels.get(label::NAME)?.clone(),
            folder: get(label::FOLDER),
            home: get(label::HOME),
            state: summary.state.map(|s| s.to_string()).unwrap_or_default(),
            image: summary.image.unwrap_or_default(),
            image_id: summary.image_id.unwrap_or_default(),
            user: get(label::USER),
            mount: get(label::MOUNT),
            ports: parse_ports_label(&get(label::PORTS)),
            ui: get(label::UI),
            settings: get(label::SETTINGS),
        })
    }
}

pub fn ports_label(ports: &BTreeMap<String, (u16, u16)>) -> String {
    ports.iter().map(|(name, (container, host))| format!("{name}={container}:{host}")).collect::<Vec<_>>().join(",")
}

pub fn parse_ports_label(text: &str) -> BTreeMap<String, (u16, u16)> {
    text.split(',')
        .filter_map(|item| {
            let (name, pair) = item.split_once('=')?;
            let (container, host) = pair.split_once(':')?;
            Some((name.to_string(), (container.parse().ok()?, host.parse().ok()?)))
        })
        .collect()
}

/// Where and as whom a command runs in a container, with which extra variables (`NAME=value`).
pub struct ExecTarget<'a> {
    pub container: &'a str,
    pub user: &'a str,
    pub env: &'a [String],
}

/// Output of a command run inside a container.
pub struct ExecOutcome {
    pub exit_code: i64,
}

impl Engine {
    /// Connects to the engine the docker CLI would use (see `engine/endpoint.rs`) and agrees on an API
    /// version it speaks: older engines reject newer clients.
    pub async fn connect() -> Result<Engine> {
        let endpoint = Endpoint::from_env()?;
        let unreachable = |reason: String| {
            let hint = match &endpoint.source {
                _ if endpoint.is_ssh() => {
                    let login = endpoint.ssh_target().map_or_else(String::new, |target| match target.port {
                        Some(port) => format!("-p {port} {}", target.destination),
                        None => target.destination,
                    });
                    format!(
                        "check that `ssh {login} docker version` works here without a prompt (a key or an agent) and shows the engine"
                    )
                }
                Source::DockerHost => {
                    "start Docker (e.g. `sudo systemctl start docker`), or point DOCKER_HOST at a running engine".to_string()
                }
                Source::Context { name, .. } => format!(
                    "start the engine behind the context `{name}`, or pick another with `docker context use` (`docker context ls` lists them)"
                ),
                Source::DefaultSocket => {
                    "start Docker (e.g. `sudo systemctl start docker`), or choose another engine with DOCKER_HOST or `docker context use`".to_string()
                }
            };
            Hinted::new(
                format!("cannot reach the Docker engine at {} (from {}): {reason}", endpoint.host, endpoint.source),
                hint,
            )
        };
        // One ssh client for both versions below, so the connection made to ask `/version` is kept.
        let ssh = endpoint.ssh_target().map(|target| std::sync::Arc::new(crate::engine::dial::client(target)));
        let open = |version: &ClientVersion| {
            if let Some(client) = &ssh {
                // jenv's own transport (`dial.rs`): bollard's would drop the port from the address.
                let client = client.clone();
                let transport = move |request: BollardRequest| {
                    let client = client.clone();
                    async move { client.request(request).await.map_err(DockerError::from) }
                };
                Docker::connect_with_custom_transport(transport, Some(SSH_AUTHORITY), CONNECT_TIMEOUT_SECS, version)
            } else if let Some(path) = endpoint.unix_path() {
                Docker::connect_with_unix(path, CONNECT_TIMEOUT_SECS, version)
            } else if let Some(dir) = &endpoint.tls {
                let [ca, cert, key] = crate::engine::endpoint::TLS_FILES.map(|file| dir.join(file));
                Docker::connect_with_ssl(&endpoint.host, &key, &cert, &ca, CONNECT_TIMEOUT_SECS, version)
            } else {
                Docker::connect_with_http(&endpoint.host, CONNECT_TIMEOUT_SECS, version)
            }
        };
        // One `/version` request tells both the API version to speak (older engines reject newer
        // clients: this is bollard's negotiation, without asking twice) and whether it is Podman.
        let docker = open(API_DEFAULT_VERSION).map_err(|e| unreachable(e.to_string()))?;
        let version = docker.version().await.map_err(|e| unreachable(describe(&e)))?;
        let podman = version.components.iter().flatten().any(|c| c.name.starts_with("Podman"));
        let docker = match version.api_version.as_deref().and_then(parse_api_version) {
            Some(server) if server < *API_DEFAULT_VERSION => open(&server).map_err(|e| unreachable(e.to_string()))?,
            _ => docker,
        };
        // Only an image import carries `changes`; every other request passes untouched.
        let docker = docker.with_request_modifier(|mut request| {
            let uri = request.uri();
            let split = uri.query().and_then(one_change_per_parameter).map(|query| {
                // The URI is absolute (scheme and host included): keep all of it but the query.
                let whole = uri.to_string();
                format!("{}?{query}", whole.split_once('?').map_or(whole.as_str(), |(base, _)| base))
            });
            if let Some(Ok(uri)) = split.map(|text| text.parse()) {
                *request.uri_mut() = uri;
            }
            request
        });
        Ok(Engine { docker, endpoint, version, podman })
    }

    /// Where the engine is and why jenv chose it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the engine is Podman (its `/version` lists a Podman component).
    pub fn is_podman(&self) -> bool {
        self.podman
    }

    /// Every jenv container on the engine, or only the one named `env_name`.
    pub async fn list(&self, env_name: Option<&str>) -> Result<Vec<EnvContainer>> {
        let mut labels = vec![format!("{}=true", label::MANAGED)];
        if let Some(name) = env_name {
            labels.push(format!("{}={name}", label::NAME));
        }
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), labels)])),
            ..Default::default()
        };
        let summaries = self.docker.list_containers(Some(options)).await.context("cannot list containers")?;
        Ok(summaries.into_iter().filter_map(EnvContainer::from_summary).collect())
    }

    /// The image IDs of every container on the engine, jenv's or not.
    pub async fn list_all_image_ids(&self) -> Result<std::collections::BTreeSet<String>> {
        let options = ListContainersOptions { all: true, ..Default::default() };
        let summaries = self.docker.list_containers(Some(options)).await.context("cannot list containers")?;
        Ok(summaries.into_iter().filter_map(|s| s.image_id).collect())
    }

    pub async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspectResponse>> {
        not_found_is_none(self.docker.inspect_container(name, None).await)
            .with_context(|| format!("cannot inspect container {name}"))
    }

    pub async fn inspect_image(&self, image: &str) -> Result<Option<ImageInspect>> {
        not_found_is_none(self.docker.inspect_image(image).await)
            .with_context(|| format!("cannot inspect image {image}"))
    }

    /// The engine's versions and storage driver, as `jenv doctor` reports them.
    pub async fn facts(&self) -> Result<EngineFacts> {
        let version = self.version.clone();
        let info =
            self.docker.info().await.map_err(|e| anyhow::anyhow!("cannot read the engine's info: {}", describe(&e)))?;
        Ok(EngineFacts {
            product: if self.podman { "Podman" } else { "Docker Engine" }.to_string(),
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            spoken_api_version: self.docker.client_version().to_string(),
            storage_driver: info.driver.unwrap_or_default(),
        })
    }

    /// Whether `image`'s registry knows it, asked without pulling (the registry's manifest).
    pub async fn registry_has(&self, image: &str) -> Result<()> {
        self.docker.inspect_registry_image(image, None).await.map(|_| ()).map_err(|e| anyhow::anyhow!(describe(&e)))
    }

    /// Pulls a base image (Docker Hub or any registry), with the user's credentials for it.
    pub async fn pull(&self, image: &str) -> Result<()> {
        let credentials = crate::engine::registry::credentials_for(image)?;
        self.pull_with(image, credentials).await.map_err(|err| {
            Hinted::new(
                format!("cannot pull {image}: {}", err.message()),
                match &err {
                    Transfer::Unauthorized(_) => crate::engine::registry::login_hint(image),
                    _ => "check the image name, or make it available offline (`docker load`, `docker build`) and run again"
                        .to_string(),
                },
            )
            .into()
        })
    }

    /// Pulls `image`, showing progress: a byte bar on a terminal, a line per layer otherwise.
    pub async fn pull_with(&self, image: &str, credentials: Option<DockerCredentials>) -> Result<(), Transfer> {
        let options = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
        let stream = self.docker.create_image(Some(options), None, credentials);
        let progress = stream
            .map(|item| item.map(|info| (info.id, info.status, info.progress_detail.map(|d| (d.current, d.total)))));
        transfer(&format!("pulling {image}"), progress).await
    }

    /// Pushes `repository:tag` with `credentials`, showing progress like [`Engine::pull_with`].
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        credentials: Option<DockerCredentials>,
    ) -> Result<(), Transfer> {
        let options = PushImageOptions { tag: Some(tag.to_string()), ..Default::default() };
        let stream = self.docker.push_image(repository, Some(options), credentials);
        // bollard's push progress has no layer IDs, so a push shows finished layers, not bytes.
        let progress = stream.map(|item| item.map(|info| (None, info.status, None)));
        transfer(&format!("pushing {repository}:{tag}"), progress).await
    }

    pub async fn create(&self, spec: &ContainerSpec) -> Result<()> {
        let port_bindings = spec
            .ports
            .iter()
            .map(|(container, host)| {
                let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(host.to_string()) };
                (format!("{container}/tcp"), Some(vec![binding]))
            })
            .collect();
        let mounts = spec
            .binds
            .iter()
            .map(|(source, target, read_only)| Mount {
                source: Some(source.clone()),
                target: Some(target.clone()),
                typ: Some(MountType::BIND),
                read_only: Some(*read_only),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(spec.user.clone()),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            working_dir: Some(spec.working_dir.clone()),
            exposed_ports: Some(spec.ports.keys().map(|p| format!("{p}/tcp")).collect()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone().or_else(|| spec.entrypoint.as_ref().map(|_| Vec::new())),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                mounts: Some(mounts),
                tmpfs: Some(spec.tmpfs.iter().map(|p| (p.clone(), "mode=1777".to_string())).collect()),
                memory: spec.limits.memory,
                nano_cpus: spec.limits.nano_cpus,
                shm_size: spec.limits.shm_size,
                device_requests: spec.limits.gpus.clone().map(|(count, device_ids)| {
                    vec![DeviceRequest {
                        count,
                        device_ids,
                        capabilities: Some(vec![vec!["gpu".to_string()]]),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                let reason = describe(&e);
                match reason.split_once("bind source path does not exist: ") {
                    // The engine's host is another machine, which lacks the folder (or a mount source).
                    Some((_, path)) => Hinted::new(
                        format!("{path} does not exist on the engine's host ({}), so it cannot be mounted", self.endpoint.host),
                        "jenv mounts folders by their path on the engine's host: share it there (a shared home, NFS) or check the project out at the same path, then run `jenv up` again",
                    )
                    .into(),
                    None => anyhow::anyhow!("cannot create container {}: {reason}", spec.name),
                }
            })?;
        Ok(())
    }

    /// Makes `path` in a created (not yet started) container a folder owned by `uid:gid`,
    /// creating it if needed. Its contents keep their owners.
    pub async fn own_folder(&self, container: &str, path: &str, uid: u32, gid: u32) -> Result<()> {
        let tar = directory_tar(path, uid, gid).context("cannot describe the folder to create")?;
        let options = UploadToContainerOptions { path: "/".to_string(), ..Default::default() };
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|e| anyhow::anyhow!("cannot give {path} in {container} to {uid}:{gid}: {}", describe(&e)))
    }

    /// A file from a container (created or running, bind mounts included); `None` when absent.
    pub async fn read_file(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let options = DownloadFromContainerOptions { path: path.to_string() };
        let mut stream = self.docker.download_from_container(container, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
                Err(err) => anyhow::bail!("cannot read {path} in {container}: {}", describe(&err)),
            }
        }
        Ok(first_file_of_tar(&tar))
    }

    /// Starts a created container. Fails with [`StartError::PortTaken`] when the engine finds a
    /// host port already bound, so the caller can choose another.
    pub async fn start(&self, name: &str) -> Result<(), StartError> {
        self.docker.start_container(name, None).await.map_err(|e| {
            let text = describe(&e);
            if text.contains("port is already allocated") || text.contains("address already in use") {
                StartError::PortTaken(text)
            } else if text.contains("could not select device driver") {
                StartError::Other(
                    Hinted::new(
                        format!("cannot start container {name}: the engine has no GPU runtime ({text})"),
                        "install the NVIDIA Container Toolkit on the engine's host and restart the engine, or remove `gpus` from [resources] in .jupyter-env",
                    )
                    .into(),
                )
            } else {
                StartError::Other(anyhow::anyhow!("cannot start container {name}: {text}"))
            }
        })
    }

    pub async fn stop(&self, name: &str, timeout_secs: i32) -> Result<()> {
        let options = StopContainerOptions { t: Some(timeout_secs), ..Default::default() };
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 304 | 404, .. }) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("cannot stop container {name}: {}", describe(&e))),
        }
    }

    /// Removes a container and its anonymous volumes; a container already gone is fine.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("cannot remove container {name}: {}", describe(&e))),
        }
    }

    /// The last `lines` lines the container printed, stdout and stderr interleaved.
    pub async fn tail_logs(&self, name: &str, lines: usize) -> String {
        let options = LogsOptions { stdout: true, stderr: true, tail: lines.to_string(), ..Default::default() };
        let mut stream = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        text
    }

    pub fn logs(&self, name: &str, follow: bool, tail: Option<usize>) -> impl Stream<Item = Result<LogChunk>> + use<> {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        self.docker.logs(name, Some(options)).map(|item| {
            let output = item.map_err(|e| anyhow::anyhow!("reading logs failed: {}", describe(&e)))?;
            Ok(LogChunk::from(output))
        })
    }

    /// Runs `cmd` in a running container, copying its output to ours (or all of it to our
    /// stderr with `to_stderr`, when stdout is reserved for JSON), and returns its exit code.
    pub async fn exec(
        &self,
        target: &ExecTarget<'_>,
        working_dir: &str,
        cmd: &[String],
        to_stderr: bool,
    ) -> Result<ExecOutcome> {
        let exit_code = self
            .run_exec(target, Some(working_dir), cmd.to_vec(), |chunk| match chunk {
                LogChunk::Stdout(bytes) if to_stderr => LogChunk::Stderr(bytes).write_to_terminal(),
                chunk => chunk.write_to_terminal(),
            })
            .await?;
        Ok(ExecOutcome { exit_code })
    }

    /// Runs `cmd` and collects its output instead of printing it.
    pub async fn exec_capture(&self, target: &ExecTarget<'_>, cmd: &[&str]) -> Result<(i64, String)> {
        let mut text = String::new();
        let cmd = cmd.iter().map(|s| s.to_string()).collect();
        let code = self
            .run_exec(target, None, cmd, |chunk| {
                let (LogChunk::Stdout(bytes) | LogChunk::Stderr(bytes)) = chunk;
                text.push_str(&String::from_utf8_lossy(&bytes));
                Ok(())
            })
            .await?;
        Ok((code, text))
    }

    async fn run_exec(
        &self,
        target: &ExecTarget<'_>,
        working_dir: Option<&str>,
        cmd: Vec<String>,
        mut sink: impl FnMut(LogChunk) -> std::io::Result<()>,
    ) -> Result<i64> {
        let container = target.container;
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            user: Some(target.user.to_string()),
            env: Some(target.env.to_vec()),
            working_dir: working_dir.map(str::to_string),
            cmd: Some(cmd),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot run a command in {container}: {}", describe(&e)))?;
        let options = StartExecOptions { detach: false, tty: false, output_capacity: None };
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&created.id, Some(options)).await?
        {
            while let Some(chunk) = output.next().await {
                sink(LogChunk::from(chunk?))?;
            }
        }
        let inspected = self.docker.inspect_exec(&created.id).await?;
        Ok(inspected.exit_code.unwrap_or(-1))
    }

    /// The command lines of the processes running in a container.
    pub async fn processes(&self, container: &str) -> Result<Vec<String>> {
        let top = |ps_args: Option<&str>| {
            let options = ps_args.map(|a| bollard::query_parameters::TopOptions { ps_args: a.to_string() });
            self.docker.top_processes(container, options)
        };
        let top = match top(None).await {
            // Podman's Docker API runs `ps -ef` inside the container by default and, when the image
            // has no `ps`, answers 200 with an empty body; its own descriptors need no `ps`.
            Err(DockerError::JsonDataError { .. } | DockerError::JsonSerdeError { .. }) => top(Some("pid,args")).await,
            other => other,
        }
        .map_err(|e| anyhow::anyhow!("cannot list the processes in {container}: {}", describe(&e)))?;
        // Docker calls the column CMD, Podman COMMAND; either way it is the last one.
        let column = top.titles.as_ref().and_then(|t| t.iter().position(|t| t == "CMD" || t == "COMMAND"));
        Ok(top
            .processes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|row| match column {
                Some(i) => row.get(i).cloned(),
                None => row.last().cloned(),
            })
            .collect())
    }

    /// The modification time of a path in the container, `None` when it does not exist. Cheap:
    /// no process starts in the container.
    pub async fn path_mtime(&self, container: &str, path: &str) -> Result<Option<String>> {
        let options = bollard::query_parameters::ContainerArchiveInfoOptions { path: path.to_string() };
        match self.docker.get_container_archive_info(container, Some(options)).await {
            Ok(stat) => Ok(Some(stat.modification_time.unwrap_or_default())),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot stat {path} in {container}: {}", describe(&e))),
        }
    }

    /// Commits the container as `repo:tag` with the given image config and returns the new
    /// image's ID. With `pause`, the engine freezes the container for the whole commit.
    pub async fn commit(
        &self,
        container: &str,
        repo: &str,
        tag: &str,
        config: ImageConfig,
        pause: bool,
    ) -> Result<String> {
        let options = CommitContainerOptions {
            container: Some(container.to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            pause,
            // Podman's Docker API ignores the config in a commit's body and keeps the container's
            // (its entrypoint, user and labels); it applies the same config given as instructions.
            changes: self.podman.then(|| dockerfile_changes(&config).join("\n")),
            ..Default::default()
        };
        let created = self
            .docker
            .commit_container(options, container_config(config))
            .await
            .map_err(|e| anyhow::anyhow!("cannot commit {container}: {}", describe(&e)))?;
        Ok(created.id)
    }

    pub async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<()> {
        let options = TagImageOptions { repo: Some(repo.to_string()), tag: Some(tag.to_string()) };
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| anyhow::anyhow!("cannot tag {image} as {repo}:{tag}: {}", describe(&e)))
    }

    /// Removes an image reference; `Ok(false)` when a container still uses it.
    pub async fn remove_image(&self, image: &str) -> Result<bool> {
        let options = RemoveImageOptions { force: false, noprune: false, ..Default::default() };
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(true),
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("cannot remove image {image}: {}", describe(&e))),
        }
    }

    /// Images carrying `key=value` as a label.
    pub async fn images_labelled(&self, key: &str, value: &str) -> Result<Vec<ImageSummary>> {
        let options = ListImagesOptions {
            filters: Some(HashMap::from([("label".to_string(), vec![format!("{key}={value}")])])),
            ..Default::default()
        };
        self.docker
            .list_images(Some(options))
            .await
            .map_err(|e| anyhow::anyhow!("cannot list images: {}", describe(&e)))
    }

    /// Squashes a container's whole filesystem into a one-layer image `repo:tag`, re-applying
    /// `changes` (Dockerfile instructions: USER, ENV, CMD, ...) so the image still runs the same.
    pub async fn import_filesystem(&self, container: &str, repo: &str, tag: &str, changes: Vec<String>) -> Result<()> {
        let export = self.docker.export_container(container).map(|chunk| chunk.map_err(std::io::Error::other));
        let options = CreateImageOptions {
            from_src: Some("-".to_string()),
            // Podman's import ignores `tag` (and tags `latest`); a tagged `repo`, as the docker CLI
            // sends it, works on both engines.
            repo: Some(format!("{repo}:{tag}")),
            changes,
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), Some(bollard::body_try_stream(export)), None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow::anyhow!("cannot import the flattened filesystem: {}", describe(&e)))?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                anyhow::bail!("cannot import the flattened filesystem: {error}");
            }
        }
        Ok(())
    }
}

/// `query` with every `changes` parameter split into one per instruction, as the docker CLI
/// sends them, or `None` when it has no instructions to split. bollard joins an image import's
/// instructions with line breaks; Docker splits them again, Podman's import reads the whole
/// text as one instruction.
fn one_change_per_parameter(query: &str) -> Option<String> {
    if !query.split('&').any(|pair| pair.starts_with("changes=") && pair.contains("%0A")) {
        return None;
    }
    let pairs = query.split('&').flat_map(|pair| match pair.strip_prefix("changes=") {
        // The encoder writes a line break as `%0A`; a literal `%0A` in a value is `%250A`.
        Some(value) => value.split("%0A").map(|change| format!("changes={change}")).collect(),
        None => vec![pair.to_string()],
    });
    Some(pairs.collect::<Vec<_>>().join("&"))
}

/// The contents of the first file in a tar archive.
fn first_file_of_tar(tar: &[u8]) -> Option<Vec<u8>> {
    let header = tar.get(..512)?;
    let size_field = std::str::from_utf8(&header[124..136]).ok()?;
    let size = usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()?;
    tar.get(512..512 + size).map(<[u8]>::to_vec)
}

/// A tar archive holding one directory entry, `path` (absolute) owned by `uid:gid`, mode 0755.
fn directory_tar(path: &str, uid: u32, gid: u32) -> Result<Vec<u8>> {
    let name = format!("{}/", path.trim_matches('/'));
    anyhow::ensure!(name.len() < 100 && name != "/", "`{path}` does not fit a tar header");
    let mut header = [0u8; 512];
    let mut put = |offset: usize, field: &[u8]| header[offset..offset + field.len()].copy_from_slice(field);
    put(0, name.as_bytes());
    put(100, b"0000755\0");
    put(108, format!("{uid:07o}\0").as_bytes());
    put(116, format!("{gid:07o}\0").as_bytes());
    put(124, b"00000000000\0"); // size
    put(
        136,
        format!(
            "{:011o}\0",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
        )
        .as_bytes(),
    );
    put(148, b"        "); // the checksum counts itself as spaces
    put(156, b"5"); // a directory
    put(257, b"ustar\0");
    put(263, b"00");
    let checksum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
}

fn container_config(config: ImageConfig) -> ContainerConfig {
    ContainerConfig {
        user: config.user,
        exposed_ports: config.exposed_ports,
        env: config.env,
        cmd: config.cmd,
        healthcheck: config.healthcheck,
        args_escaped: config.args_escaped,
        volumes: config.volumes,
        working_dir: config.working_dir,
        entrypoint: config.entrypoint,
        on_build: config.on_build,
        labels: config.labels,
        stop_signal: config.stop_signal,
        shell: config.shell,
        ..Default::default()
    }
}

/// The Dockerfile instructions that give an imported filesystem back its image config.
pub fn dockerfile_changes(config: &ImageConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let json = |items: &Vec<String>| serde_json::to_string(items).expect("strings serialize");
    if let Some(user) = config.user.as_ref().filter(|u| !u.is_empty()) {
        changes.push(format!("USER {user}"));
    }
    if let Some(dir) = config.working_dir.as_ref().filter(|d| !d.is_empty()) {
        changes.push(format!("WORKDIR {dir}"));
    }
    for pair in config.env.iter().flatten() {
        if let Some((key, value)) = pair.split_once('=') {
            changes.push(format!("ENV {key}={}", quote(value)));
        }
    }
    if let Some(entrypoint) = &config.entrypoint {
        changes.push(format!("ENTRYPOINT {}", json(entrypoint)));
    }
    if let Some(cmd) = &config.cmd {
        changes.push(format!("CMD {}", json(cmd)));
    }
    for port in config.exposed_ports.iter().flatten() {
        changes.push(format!("EXPOSE {port}"));
    }
    let mut labels: Vec<_> = config.labels.iter().flatten().collect();
    labels.sort();
    for (key, value) in labels {
        changes.push(format!("LABEL {}={}", quote(key), quote(value)));
    }
    changes
}

/// A double-quoted instruction argument. Instructions are one per line, so a line break in a
/// value (a multi-line snapshot message) becomes a space.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
}

/// One piece of container output, tagged with the stream it came from.
pub enum LogChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

impl From<bollard::container::LogOutput> for LogChunk {
    fn from(output: bollard::container::LogOutput) -> LogChunk {
        match output {
            bollard::container::LogOutput::StdErr { message } => LogChunk::Stderr(message.to_vec()),
            other => LogChunk::Stdout(other.into_bytes().to_vec()),
        }
    }
}

impl LogChunk {
    pub fn write_to_terminal(&self) -> std::io::Result<()> {
        match self {
            LogChunk::Stdout(bytes) => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            LogChunk::Stderr(bytes) => std::io::stderr().lock().write_all(bytes),
        }
    }
}

#[derive(Debug)]
pub enum StartError {
    PortTaken(String),
    Other(anyhow::Error),
}

fn not_found_is_none<T>(result: Result<T, DockerError>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(describe(&e))),
    }
}

/// `"1.41"` as bollard's version type.
fn parse_api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

/// Why a pull or push failed, in the classes jenv acts on.
#[derive(Debug)]
pub enum Transfer {
    /// The registry has no such repository or tag.
    NotFound(String),
    /// The registry wants a login (or refused the one it got).
    Unauthorized(String),
    Other(String),
}

impl Transfer {
    fn from_message(message: String) -> Transfer {
        let lower = message.to_ascii_lowercase();
        if ["unauthorized", "authentication required", "no basic auth credentials", "denied: requested access"]
            .iter()
            .any(|s| lower.contains(s))
        {
            Transfer::Unauthorized(message)
        } else if ["not found", "manifest unknown", "does not exist"].iter().any(|s| lower.contains(s)) {
            Transfer::NotFound(message)
        } else {
            Transfer::Other(message)
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Transfer::NotFound(m) | Transfer::Unauthorized(m) | Transfer::Other(m) => m,
        }
    }
}

/// One progress item of a pull or push: layer ID, status text and (current, total) bytes.
type TransferItem = (Option<String>, Option<String>, Option<(Option<i64>, Option<i64>)>);

/// Follows a pull's or push's progress stream to its end.
async fn transfer(
    message: &str,
    stream: impl Stream<Item = Result<TransferItem, DockerError>>,
) -> Result<(), Transfer> {
    let progress = crate::ui::progress::Bytes::new(message);
    let mut layers: HashMap<String, (i64, i64)> = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let (id, status, detail) = item.map_err(|e| Transfer::from_message(describe(&e)))?;
        if let (Some(id), Some((Some(current), Some(total)))) = (&id, detail) {
            layers.insert(id.clone(), (current, total));
            let (done, all) = layers.values().fold((0, 0), |(d, a), (c, t)| (d + c, a + t));
            progress.set(done as u64, all as u64);
        }
        if let Some(status) = status.filter(|s| LAYER_DONE.iter().any(|done| s.starts_with(done))) {
            progress.line(&format!("  {}: {}", id.as_deref().unwrap_or("layer"), status.to_ascii_lowercase()));
        }
    }
    progress.finish();
    Ok(())
}

/// How the statuses an engine reports when one layer of a pull or push is done begin
/// (`Mounted from team/base`).
const LAYER_DONE: &[&str] = &["Pull complete", "Already exists", "Pushed", "Layer already exists", "Mounted from"];

/// The engine's own message, or a connection error with its causes (`client error (Connect):
/// invalid peer certificate: ...`), which hyper keeps in the error's source chain.
fn describe(err: &DockerError) -> String {
    match err {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text = format!("{text}: {cause_text}");
                }
                source = cause.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_parse_as_bollard_compares_them() {
        let old = parse_api_version("1.41").unwrap();
        assert_eq!((old.major_version, old.minor_version), (1, 41));
        assert!(old < *API_DEFAULT_VERSION, "the engine here is older than bollard's default");
        assert!(parse_api_version("1").is_none() && parse_api_version("x.y").is_none());
    }

    #[test]
    fn ports_label_round_trips() {
        let ports = BTreeMap::from([("jupyter".to_string(), (8888, 8890)), ("spark".to_string(), (4040, 4041))]);
        let text = ports_label(&ports);
        assert_eq!(text, "jupyter=8888:8890,spark=4040:4041");
        assert_eq!(parse_ports_label(&text), ports);
    }

    #[test]
    fn directory_tar_is_one_valid_ustar_entry() {
        let tar = directory_tar("/home/jovyan", 1234, 100).unwrap();
        assert_eq!(tar.len(), 512 + 1024);
        assert_eq!(&tar[..13], b"home/jovyan/\0");
        assert_eq!(&tar[108..116], b"0002322\0");
        assert_eq!(&tar[116..124], b"0000144\0");
        assert_eq!(tar[156], b'5');
        let stored = std::str::from_utf8(&tar[148..154]).unwrap();
        let mut blank = tar[..512].to_vec();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
        assert!(directory_tar("/", 1, 1).is_err());
    }

    #[test]
    fn dockerfile_changes_keep_the_whole_config() {
        let config = ImageConfig {
            user: Some("jovyan".into()),
            working_dir: Some("/home/jovyan".into()),
            env: Some(vec!["PATH=/usr/bin:/bin".into(), "GREETING=say \"hi\"".into()]),
            entrypoint: Some(vec!["/usr/bin/tini".into(), "--".into()]),
            cmd: Some(vec!["jupyter".into(), "notebook".into()]),
            exposed_ports: Some(vec!["8888/tcp".into()]),
            labels: Some(HashMap::from([("jenv.name".to_string(), "x".to_string())])),
            ..Default::default()
        };
        assert_eq!(
            dockerfile_changes(&config),
            [
                "USER jovyan",
                "WORKDIR /home/jovyan",
                "ENV PATH=\"/usr/bin:/bin\"",
                "ENV GREETING=\"say \\\"hi\\\"\"",
                "ENTRYPOINT [\"/usr/bin/tini\",\"--\"]",
                "CMD [\"jupyter\",\"notebook\"]",
                "EXPOSE 8888/tcp",
                "LABEL \"jenv.name\"=\"x\"",
            ]
        );
    }

    #[test]
    fn instructions_travel_one_per_parameter() {
        let query = "fromSrc=-&repo=jenv%2Fx%3A1&changes=USER+jovyan%0ALABEL+%22a%22%3D%22b%250A%22";
        assert_eq!(
            one_change_per_parameter(query).as_deref(),
            Some("fromSrc=-&repo=jenv%2Fx%3A1&changes=USER+jovyan&changes=LABEL+%22a%22%3D%22b%250A%22")
        );
        assert_eq!(one_change_per_parameter("fromSrc=-&changes=USER+jovyan"), None);
        assert_eq!(one_change_per_parameter("all=true"), None);
    }

    #[test]
    fn malformed_ports_label_items_are_skipped() {
        let parsed = parse_ports_label("jupyter=8888:8890,broken,x=1:notaport,");
        assert_eq!(parsed, BTreeMap::from([("jupyter".to_string(), (8888, 8890))]));
    }
}
