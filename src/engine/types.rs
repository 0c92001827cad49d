//! The values that cross the engine's boundary, in jenv's words: what jenv asks the engine to
//! create, and what the engine says about containers and images.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::engine::image_config::ImageConfig;
use crate::ui::Stream;

/// Everything needed to create one container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub user: String,
    /// Variables set on the container itself (jenv's own travel in a file: see state/run_env.rs).
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    pub binds: Vec<Bind>,
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

/// A host path mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// Resource limits and devices, as `docker run --memory --cpus --shm-size --gpus` set them.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub shm_size: Option<i64>,
    pub gpus: Option<GpuRequest>,
}

/// Which GPUs a container gets, as `docker run --gpus` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuRequest {
    All,
    Count(u32),
    Devices(Vec<String>),
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

/// A jenv container as the engine lists it, read back from its labels (see engine/labels.rs).
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub folder: String,
    /// The state folder (`JENV_HOME`) that made it.
    pub home: String,
    pub state: ContainerState,
    pub image: String,
    pub image_id: String,
    pub user: String,
    pub mount: String,
    /// By port name.
    pub ports: BTreeMap<String, PublishedPort>,
    /// The URL path of its UI (`lab` or `tree`).
    pub ui: String,
    /// The manifest settings it was created with, as its label holds them (see notebook/drift.rs).
    pub fingerprint: String,
    /// When the engine created it, in seconds since 1970.
    pub created: i64,
}

impl Container {
    pub fn is_running(&self) -> bool {
        self.state == ContainerState::Running
    }

    /// Frozen by the engine: by a commit that pauses (as `docker commit` does), or by `docker pause`.
    pub fn is_paused(&self) -> bool {
        self.state == ContainerState::Paused
    }

    /// This container as the target of a command run as its notebook user, with `env`.
    pub fn exec_target<'a>(&'a self, env: &'a [(String, String)]) -> ExecTarget<'a> {
        ExecTarget { container: &self.id, user: &self.user, env }
    }

    pub fn host_port(&self, name: &str) -> Option<u16> {
        self.ports.get(name).map(|port| port.host)
    }

    /// The host port of each published port, by name.
    pub fn host_ports(&self) -> BTreeMap<String, u16> {
        self.ports.iter().map(|(name, port)| (name.clone(), port.host)).collect()
    }
}

/// A container's state: the two jenv acts on, and the engine's word for any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Paused,
    /// `created`, `exited`, `restarting`, ... as the engine says it.
    Other(String),
}

impl ContainerState {
    pub fn from_engine(word: &str) -> ContainerState {
        match word {
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            other => ContainerState::Other(other.to_string()),
        }
    }

    /// The engine's word for it, as `jenv status` shows it.
    pub fn as_str(&self) -> &str {
        match self {
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Other(word) => word,
        }
    }
}

/// A container port and the host port it is published on (127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    pub container: u16,
    pub host: u16,
}

/// Where and as whom a command runs in a container, with which extra variables.
pub struct ExecTarget<'a> {
    pub container: &'a str,
    pub user: &'a str,
    pub env: &'a [(String, String)],
}

/// Output of a command run inside a container.
pub struct ExecOutcome {
    pub exit_code: i64,
}

/// An image as the engine describes it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    /// Bytes, when the engine says.
    pub size: Option<i64>,
    /// Filesystem layers: overlay2 refuses images past 128.
    pub layers: usize,
    /// `repository:tag` names pointing at it.
    pub repo_tags: Vec<String>,
    /// `repository@sha256:...` for each registry it was pulled from or pushed to.
    pub repo_digests: Vec<String>,
    pub labels: HashMap<String, String>,
    pub config: ImageConfig,
}

/// One image of a listing.
#[derive(Debug, Clone)]
pub struct ImageListing {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub labels: HashMap<String, String>,
}

/// One piece of container output, tagged with the stream it came from.
pub enum LogChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

impl LogChunk {
    /// The stream it came from, as the console passes it on.
    pub fn stream(&self) -> Stream {
        match self {
            LogChunk::Stdout(_) => Stream::Stdout,
            LogChunk::Stderr(_) => Stream::Stderr,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        let (LogChunk::Stdout(bytes) | LogChunk::Stderr(bytes)) = self;
        bytes
    }
}

/// Why a created container did not start: a host port someone else took (the caller may choose
/// others), or anything else.
#[derive(Debug)]
pub enum StartError {
    PortTaken(String),
    Other(anyhow::Error),
}

impl StartError {
    /// As an error to report: `Other` passes through unchanged, so a hint it carries survives.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            StartError::Other(err) => err,
            port_taken => anyhow::Error::new(port_taken),
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::PortTaken(reason) => f.write_str(reason),
            StartError::Other(err) => write!(f, "{err:#}"),
        }
    }
}

impl std::error::Error for StartError {}
