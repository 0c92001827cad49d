//! The only module that talks to the Docker Engine (the only one that names bollard): the few
//! operations jenv needs, taking and giving the values of engine/types.rs.
//!
//! Beside this file: types.rs (what crosses the boundary), labels.rs (the labels schema),
//! image_config.rs (an image's config, kept whole), copy.rs (an image with another config, no
//! commit), transfer.rs (pull and push), helper.rs (containers that must not outlive a step),
//! archive.rs (the tar archives jenv reads and writes), endpoint.rs and dial.rs (which engine,
//! and how to reach it), registry.rs (credentials), reference.rs (image names), usage.rs
//! (memory, CPU and OOM kills).
pub mod archive;
pub mod build;
pub mod copy;
pub mod dial;
pub mod endpoint;
pub mod helper;
pub mod image_config;
pub mod labels;
pub mod reference;
pub mod registry;
pub mod transfer;
pub mod types;
pub mod usage;

use std::collections::HashMap;

use anyhow::{Context, Result};
use bollard::errors::Error as DockerError;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerSummary, DeviceRequest, ExecConfig, HostConfig, ImageInspect, ImageSummary, Mount,
    MountType, PortBinding, SystemVersion,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions,
    ListContainersOptions, ListImagesOptions, LogsOptions, RemoveContainerOptions, RemoveImageOptions,
    StopContainerOptions, TagImageOptions, UploadToContainerOptions,
};
use bollard::{API_DEFAULT_VERSION, BollardRequest, ClientVersion, Docker};
use futures_util::{Stream, StreamExt};

use crate::engine::archive::{directory_tar, first_file_of_tar};
use crate::engine::endpoint::{Endpoint, Source};
use crate::engine::image_config::ImageConfig;
use crate::engine::labels::ContainerLabels;
use crate::engine::types::{
    Container, ContainerSpec, ContainerState, EngineFacts, ExecOutcome, ExecTarget, GpuRequest, ImageInfo,
    ImageListing, LogChunk, StartError,
};
use crate::error::Hinted;
use crate::ui::Console;

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

impl Engine {
    /// Connects to the engine the docker CLI would use (see `engine/endpoint.rs`) and agrees on an API
    /// version it speaks: older engines reject newer clients.
    /// Warnings about the docker config go to `console`.
    pub async fn connect(console: &Console) -> Result<Engine> {
        let mut warnings = Vec::new();
        let endpoint = Endpoint::from_env_noting(&mut warnings)?;
        for warning in warnings {
            console.warn(warning);
        }
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
        let version = docker.version().await.map_err(|e| unreachable(engine_message(&e)))?;
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
    pub async fn list(&self, env_name: Option<&str>) -> Result<Vec<Container>> {
        let mut wanted = vec![format!("{}=true", labels::MANAGED)];
        if let Some(name) = env_name {
            wanted.push(format!("{}={name}", labels::NAME));
        }
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), wanted)])),
            ..Default::default()
        };
        let summaries = self.docker.list_containers(Some(options)).await.context("cannot list containers")?;
        Ok(summaries.into_iter().filter_map(container_of).collect())
    }

    /// The image IDs of every container on the engine, jenv's or not.
    pub async fn list_all_image_ids(&self) -> Result<std::collections::BTreeSet<String>> {
        let options = ListContainersOptions { all: true, ..Default::default() };
        let summaries = self.docker.list_containers(Some(options)).await.context("cannot list containers")?;
        Ok(summaries.into_iter().filter_map(|s| s.image_id).collect())
    }

    /// Whether the container `name` exists and runs (a paused one counts: it has not stopped).
    pub async fn is_running(&self, name: &str) -> Result<bool> {
        let inspected = not_found_is_none(self.docker.inspect_container(name, None).await)
            .with_context(|| format!("cannot inspect container {name}"))?;
        Ok(inspected.and_then(|c| c.state).and_then(|s| s.running).unwrap_or(false))
    }

    /// The variables set on the container `name` itself (none when it does not exist).
    pub async fn container_env(&self, name: &str) -> Result<Vec<(String, String)>> {
        let inspected = not_found_is_none(self.docker.inspect_container(name, None).await)
            .with_context(|| format!("cannot inspect container {name}"))?;
        let env = inspected.and_then(|c| c.config).and_then(|c| c.env).unwrap_or_default();
        Ok(env.iter().filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    pub async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        let inspected = not_found_is_none(self.docker.inspect_image(image).await)
            .with_context(|| format!("cannot inspect image {image}"))?;
        Ok(inspected.map(image_info))
    }

    /// The engine's versions and storage driver, as `jenv doctor` reports them.
    pub async fn facts(&self) -> Result<EngineFacts> {
        let version = self.version.clone();
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the engine's info: {}", engine_message(&e)))?;
        Ok(EngineFacts {
            product: if self.podman { "Podman" } else { "Docker Engine" }.to_string(),
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            spoken_api_version: self.docker.client_version().to_string(),
            storage_driver: info.driver.unwrap_or_default(),
        })
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
            .map(|bind| Mount {
                source: Some(bind.source.to_string_lossy().into_owned()),
                target: Some(bind.target.clone()),
                typ: Some(MountType::BIND),
                read_only: Some(bind.read_only),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(spec.user.clone()),
            env: Some(spec.env.iter().map(|(name, value)| format!("{name}={value}")).collect()),
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
                device_requests: spec.limits.gpus.as_ref().map(|gpus| vec![device_request(gpus)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                let reason = engine_message(&e);
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
            .map_err(|e| anyhow::anyhow!("cannot give {path} in {container} to {uid}:{gid}: {}", engine_message(&e)))
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
                Err(err) => anyhow::bail!("cannot read {path} in {container}: {}", engine_message(&err)),
            }
        }
        Ok(first_file_of_tar(&tar))
    }

    /// Starts a created container. Fails with [`StartError::PortTaken`] when the engine finds a
    /// host port already bound, so the caller can choose another.
    pub async fn start(&self, name: &str) -> Result<(), StartError> {
        self.docker.start_container(name, None).await.map_err(|e| {
            let text = engine_message(&e);
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
            Err(e) => Err(anyhow::anyhow!("cannot stop container {name}: {}", engine_message(&e))),
        }
    }

    /// Removes a container and its anonymous volumes; a container already gone is fine.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("cannot remove container {name}: {}", engine_message(&e))),
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
            let output = item.map_err(|e| anyhow::anyhow!("reading logs failed: {}", engine_message(&e)))?;
            Ok(LogChunk::from(output))
        })
    }

    /// Runs `cmd` in a running container, handing its output to `output` as it comes (the
    /// caller passes it on to the console), and returns its exit code.
    pub async fn exec(
        &self,
        target: &ExecTarget<'_>,
        working_dir: &str,
        cmd: &[String],
        output: impl FnMut(LogChunk) -> std::io::Result<()>,
    ) -> Result<ExecOutcome> {
        let exit_code = self.run_exec(target, Some(working_dir), cmd.to_vec(), output).await?;
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
            env: Some(target.env.iter().map(|(name, value)| format!("{name}={value}")).collect()),
            working_dir: working_dir.map(str::to_string),
            cmd: Some(cmd),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot run a command in {container}: {}", engine_message(&e)))?;
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
        .map_err(|e| anyhow::anyhow!("cannot list the processes in {container}: {}", engine_message(&e)))?;
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
            Err(e) => Err(anyhow::anyhow!("cannot stat {path} in {container}: {}", engine_message(&e))),
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
            changes: self.podman.then(|| config.dockerfile_changes().join("\n")),
            ..Default::default()
        };
        let created = self
            .docker
            .commit_container(options, config.into_container_config())
            .await
            .map_err(|e| anyhow::anyhow!("cannot commit {container}: {}", engine_message(&e)))?;
        Ok(created.id)
    }

    pub async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<()> {
        let options = TagImageOptions { repo: Some(repo.to_string()), tag: Some(tag.to_string()) };
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| anyhow::anyhow!("cannot tag {image} as {repo}:{tag}: {}", engine_message(&e)))
    }

    /// Removes an image reference; `Ok(false)` when a container still uses it.
    pub async fn remove_image(&self, image: &str) -> Result<bool> {
        let options = RemoveImageOptions { force: false, noprune: false, ..Default::default() };
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(true),
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("cannot remove image {image}: {}", engine_message(&e))),
        }
    }

    /// Images carrying `key=value` as a label.
    pub async fn images_labelled(&self, key: &str, value: &str) -> Result<Vec<ImageListing>> {
        let options = ListImagesOptions {
            filters: Some(HashMap::from([("label".to_string(), vec![format!("{key}={value}")])])),
            ..Default::default()
        };
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|e| anyhow::anyhow!("cannot list images: {}", engine_message(&e)))?;
        Ok(images.into_iter().map(image_listing).collect())
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
            let info =
                item.map_err(|e| anyhow::anyhow!("cannot import the flattened filesystem: {}", engine_message(&e)))?;
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

/// A listed container that carries jenv's labels, in jenv's terms.
fn container_of(summary: ContainerSummary) -> Option<Container> {
    let labels = ContainerLabels::from_map(&summary.labels.unwrap_or_default())?;
    Some(Container {
        id: summary.id?,
        name: labels.name,
        folder: labels.folder,
        home: labels.home,
        state: ContainerState::from_engine(&summary.state.map(|s| s.to_string()).unwrap_or_default()),
        image: summary.image.unwrap_or_default(),
        image_id: summary.image_id.unwrap_or_default(),
        user: labels.user,
        mount: labels.mount,
        ports: labels.ports,
        ui: labels.ui,
        fingerprint: labels.fingerprint,
        created: summary.created.unwrap_or(0),
    })
}

fn image_info(image: ImageInspect) -> ImageInfo {
    let config = ImageConfig(image.config.unwrap_or_default());
    ImageInfo {
        id: image.id.unwrap_or_default(),
        size: image.size,
        layers: image.root_fs.and_then(|r| r.layers).map_or(0, |layers| layers.len()),
        repo_tags: image.repo_tags.unwrap_or_default(),
        repo_digests: image.repo_digests.unwrap_or_default(),
        labels: config.0.labels.clone().unwrap_or_default(),
        config,
    }
}

fn image_listing(image: ImageSummary) -> ImageListing {
    ImageListing { id: image.id, repo_tags: image.repo_tags, labels: image.labels }
}

/// A GPU request as `docker run --gpus` sends it: a count of -1 means all.
fn device_request(gpus: &GpuRequest) -> DeviceRequest {
    let (count, device_ids) = match gpus {
        GpuRequest::All => (Some(-1), None),
        GpuRequest::Count(n) => (Some(i64::from(*n)), None),
        GpuRequest::Devices(ids) => (None, Some(ids.clone())),
    };
    DeviceRequest { count, device_ids, capabilities: Some(vec![vec!["gpu".to_string()]]), ..Default::default() }
}

impl From<bollard::container::LogOutput> for LogChunk {
    fn from(output: bollard::container::LogOutput) -> LogChunk {
        match output {
            bollard::container::LogOutput::StdErr { message } => LogChunk::Stderr(message.to_vec()),
            other => LogChunk::Stdout(other.into_bytes().to_vec()),
        }
    }
}

fn not_found_is_none<T>(result: Result<T, DockerError>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(engine_message(&e))),
    }
}

/// `"1.41"` as bollard's version type.
fn parse_api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

/// The engine's own message, or a connection error with its causes (`client error (Connect):
/// invalid peer certificate: ...`), which hyper keeps in the error's source chain.
fn engine_message(err: &DockerError) -> String {
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
    fn instructions_travel_one_per_parameter() {
        let query = "fromSrc=-&repo=jenv%2Fx%3A1&changes=USER+jovyan%0ALABEL+%22a%22%3D%22b%250A%22";
        assert_eq!(
            one_change_per_parameter(query).as_deref(),
            Some("fromSrc=-&repo=jenv%2Fx%3A1&changes=USER+jovyan&changes=LABEL+%22a%22%3D%22b%250A%22")
        );
        assert_eq!(one_change_per_parameter("fromSrc=-&changes=USER+jovyan"), None);
        assert_eq!(one_change_per_parameter("all=true"), None);
    }
}
