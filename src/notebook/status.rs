//! A notebook's status as `jenv status` and `jenv up --json` report it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::types::Container;
use crate::manifest::{self, Project};
use crate::notebook::LiveNotebook;

/// One environment as `status` (and `up --json`) reports it; the JSON shape is documented
/// (docs/cli.md).
#[derive(Debug, Serialize)]
pub struct NotebookStatus {
    pub name: String,
    pub folder: String,
    pub container: String,
    /// The engine's state (`running`, `exited`, ...) or `absent` when there is no container.
    pub state: String,
    pub image: String,
    pub ports: BTreeMap<String, PortStatus>,
    pub url: Option<String>,
    /// Package changes since the notebook started from its image (this folder's status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<usize>,
    /// The jenv command working on this environment right now, e.g. `jenv snapshot (pid 42)`
    /// (this folder's status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
    /// Settings in which the container differs from .jupyter-env now, by name (this folder's
    /// status only; values are never shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Processes (kernels) the kernel killed for lack of memory since the notebook started (this
    /// folder's status only, for a running notebook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
    /// Why a stopped notebook stopped, when jenv can tell: `idle` (its `idle_stop`) (this folder's
    /// status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The engine it is on and why jenv chose it, e.g. `unix:///var/run/docker.sock (default socket)`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub engine: String,
}

#[derive(Debug, Serialize)]
pub struct PortStatus {
    pub container: u16,
    pub host: u16,
}

impl NotebookStatus {
    pub fn from_container(container: &Container, url: Option<String>) -> NotebookStatus {
        NotebookStatus {
            name: container.name.clone(),
            folder: container.folder.clone(),
            container: manifest::container_name(&container.name),
            state: container.state.as_str().to_string(),
            image: container.image.clone(),
            ports: container
                .ports
                .iter()
                .map(|(n, port)| (n.clone(), PortStatus { container: port.container, host: port.host }))
                .collect(),
            url,
            changes: None,
            busy: None,
            drift: Vec::new(),
            oom_kills: None,
            stopped: None,
            engine: String::new(),
        }
    }

    pub fn from_live(live: &LiveNotebook) -> NotebookStatus {
        NotebookStatus::from_container(&live.container, Some(live.url.clone()))
    }

    pub fn absent(project: &Project) -> NotebookStatus {
        let manifest = &project.manifest;
        NotebookStatus {
            name: manifest.name.clone(),
            folder: project.folder.display().to_string(),
            container: project.container_name(),
            state: "absent".into(),
            image: manifest.image.clone(),
            ports: manifest
                .container_ports()
                .into_iter()
                .map(|(n, c)| (n, PortStatus { container: c, host: 0 }))
                .collect(),
            url: None,
            changes: None,
            busy: None,
            drift: Vec::new(),
            oom_kills: None,
            stopped: None,
            engine: String::new(),
        }
    }
}
