//! The Jupyter config jenv gives a notebook, as files in a folder it mounts read-only and names
//! in `JUPYTER_CONFIG_PATH`: leave to run as root (for a root host user), and the idle stop
//! (`idle_stop`), both for the classic notebook and for jupyter-server.
//!
//! The idle stop is Jupyter's own: kernels idle that long are shut down (`cull_idle_timeout`,
//! open browser tabs or not, never a busy one), terminals too, and a server with no kernel and no
//! activity that long exits (`shutdown_no_activity_timeout`). The container then stops and is
//! kept, installs and all, with no jenv process running; `jenv up` starts it again.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use crate::state::files::write_atomic;
use crate::state::{StateDir, Sub};

/// Where the folder is mounted in the container: under the tmpfs `/tmp`, so not even its mount
/// point reaches a snapshot.
pub const TARGET: &str = "/tmp/jenv-jupyter-config";
/// The line Jupyter logs when it exits for idleness: the classic notebook's "No kernels or
/// terminals for N seconds; shutting down." and jupyter-server's "No kernels for N seconds;
/// shutting down.".
pub const IDLE_EXIT_LOG: &str = "seconds; shutting down.";

/// What a notebook's Jupyter is told beyond its image's own config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JupyterConfig {
    /// Let Jupyter run as root, serving this folder.
    pub root_dir: Option<String>,
    /// Seconds of idleness after which it stops.
    pub idle_stop: Option<u64>,
}

impl JupyterConfig {
    /// Whether the notebook needs any of it (else nothing is written or mounted).
    pub fn is_needed(&self) -> bool {
        self.root_dir.is_some() || self.idle_stop.is_some()
    }

    /// The classic notebook's config and jupyter-server's, as JSON.
    fn files(&self) -> [(&'static str, Value); 2] {
        let mut notebook = json!({});
        let mut server = json!({});
        if let Some(dir) = &self.root_dir {
            notebook["NotebookApp"] = json!({"allow_root": true, "notebook_dir": dir});
            server["ServerApp"] = json!({"allow_root": true, "root_dir": dir});
        }
        if let Some(secs) = self.idle_stop {
            // Often enough that the stop comes within a minute or so of the idleness.
            let interval = (secs / 2).clamp(1, 60);
            for (config, app) in [(&mut notebook, "NotebookApp"), (&mut server, "ServerApp")] {
                config[app]["shutdown_no_activity_timeout"] = json!(secs);
                config["MappingKernelManager"] = json!({
                    "cull_idle_timeout": secs, "cull_interval": interval, "cull_connected": true, "cull_busy": false,
                });
                config["TerminalManager"] = json!({"cull_inactive_timeout": secs, "cull_interval": interval});
            }
        }
        [("jupyter_notebook_config.json", notebook), ("jupyter_server_config.json", server)]
    }

    /// Writes the files into the environment's config folder and returns the folder to mount at
    /// [`TARGET`].
    pub fn write(&self, state: &StateDir, env_name: &str) -> Result<PathBuf> {
        let folder = state.sub(Sub::JupyterConfig).join(env_name);
        std::fs::create_dir_all(&folder)?;
        for (file, config) in self.files() {
            let path = folder.join(file);
            write_atomic(&path, serde_json::to_string_pretty(&config)?.as_bytes())?;
            // Readable inside the container whatever user the image runs its start script as.
            set_mode(&path, 0o644)?;
        }
        set_mode(&folder, 0o755)?;
        Ok(folder)
    }
}

fn set_mode(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_idle_stop_for_both_servers() {
        let config = JupyterConfig { root_dir: Some("/home/jovyan/work".into()), idle_stop: Some(7200) };
        let [(_, notebook), (_, server)] = config.files();
        assert_eq!(notebook["NotebookApp"]["allow_root"], true);
        assert_eq!(notebook["NotebookApp"]["notebook_dir"], "/home/jovyan/work");
        assert_eq!(notebook["NotebookApp"]["shutdown_no_activity_timeout"], 7200);
        assert_eq!(server["ServerApp"]["root_dir"], "/home/jovyan/work");
        assert_eq!(server["ServerApp"]["shutdown_no_activity_timeout"], 7200);
        for config in [&notebook, &server] {
            assert_eq!(config["MappingKernelManager"]["cull_idle_timeout"], 7200);
            assert_eq!(config["MappingKernelManager"]["cull_interval"], 60);
            assert_eq!(config["MappingKernelManager"]["cull_busy"], false);
        }
    }

    #[test]
    fn idle_stop_alone_leaves_root_alone() {
        let config = JupyterConfig { root_dir: None, idle_stop: Some(60) };
        assert!(config.is_needed());
        let [(_, notebook), _] = config.files();
        assert!(notebook["NotebookApp"].get("allow_root").is_none());
        assert_eq!(notebook["MappingKernelManager"]["cull_interval"], 30);
        assert!(!JupyterConfig { root_dir: None, idle_stop: None }.is_needed());
    }
}
