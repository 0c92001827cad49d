//! Who the notebook runs as, so files it writes into the folder belong to the host user.
//!
//! docker-stacks images start as root and switch to `NB_UID`/`NB_GID` themselves; any other
//! image is simply run as the host user's `uid:gid`. Jupyter refuses to run as root unless
//! told to, so for a root host user jenv mounts a one-line config that allows it.

use std::path::PathBuf;

use anyhow::Result;

use crate::state::{StateDir, write_atomic};

/// Where the allow-root config folder is mounted in the container.
/// Under the tmpfs `/tmp`, so not even its mount point reaches a snapshot.
pub const ALLOW_ROOT_CONFIG_TARGET: &str = "/tmp/jenv-jupyter-config";
/// Jupyter's runtime files (kernel connections, server info) go here: writable by any uid,
/// and outside the image's home so they are runtime noise, not part of the environment.
const RUNTIME_DIR: &str = "JUPYTER_RUNTIME_DIR=/tmp/jupyter-runtime";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The container's `User`.
    pub user: String,
    /// The user `jenv exec` and `jenv shell` run as.
    pub exec_user: String,
    pub env: Vec<String>,
    pub allow_root: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct HostIds {
    pub uid: u32,
    pub gid: u32,
}

pub fn host_ids() -> HostIds {
    // SAFETY: getuid and getgid cannot fail and touch no memory.
    unsafe { HostIds { uid: libc::getuid(), gid: libc::getgid() } }
}

pub fn decide(image_env: &[String], host: HostIds) -> RunAs {
    let HostIds { uid, gid } = host;
    let ids = format!("{uid}:{gid}");
    let docker_stacks = image_env.iter().any(|e| e.starts_with("NB_UID="));
    let mut env = vec![RUNTIME_DIR.to_string()];
    let user = if docker_stacks {
        env.extend([format!("NB_UID={uid}"), format!("NB_GID={gid}"), "CHOWN_HOME=yes".to_string()]);
        "root".to_string()
    } else {
        ids.clone()
    };
    RunAs { user, exec_user: ids, env, allow_root: uid == 0 }
}

/// Who installs packages when jenv rebuilds an image: the image's own user for docker-stacks
/// images (they own their conda tree), else the user the notebook runs as.
pub fn install_user(image: &bollard::models::ImageConfig, run_as: &RunAs) -> String {
    match image.user.as_deref() {
        Some(user) if run_as.user == "root" && !user.is_empty() => user.to_string(),
        _ => run_as.exec_user.clone(),
    }
}

/// Writes the config that lets Jupyter (classic notebook and jupyter-server) run as root and
/// returns the folder to mount.
pub fn write_allow_root_config(state: &StateDir) -> Result<PathBuf> {
    let folder = state.path("jupyter-allow-root");
    std::fs::create_dir_all(&folder)?;
    write_atomic(&folder.join("jupyter_notebook_config.json"), br#"{"NotebookApp": {"allow_root": true}}"#)?;
    write_atomic(&folder.join("jupyter_server_config.json"), br#"{"ServerApp": {"allow_root": true}}"#)?;
    // Readable inside the container whatever user the image runs its start script as.
    for file in ["jupyter_notebook_config.json", "jupyter_server_config.json"] {
        set_mode(&folder.join(file), 0o644)?;
    }
    set_mode(&folder, 0o755)?;
    Ok(folder)
}

fn set_mode(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACKS_ENV: &[&str] = &["PATH=/opt/conda/bin", "NB_USER=jovyan", "NB_UID=1000", "NB_GID=100"];

    fn env(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_image_runs_as_the_host_user() {
        let run_as = decide(&env(&["PATH=/usr/bin"]), HostIds { uid: 1234, gid: 1234 });
        assert_eq!(run_as.user, "1234:1234");
        assert_eq!(run_as.exec_user, "1234:1234");
        assert!(!run_as.allow_root);
    }

    #[test]
    fn docker_stacks_image_switches_user_itself() {
        let run_as = decide(&env(STACKS_ENV), HostIds { uid: 1234, gid: 50 });
        assert_eq!(run_as.user, "root");
        assert!(run_as.env.contains(&"NB_UID=1234".to_string()));
        assert!(run_as.env.contains(&"NB_GID=50".to_string()));
        assert_eq!(run_as.exec_user, "1234:50");
    }

    #[test]
    fn root_host_user_allows_root_in_both_kinds() {
        assert!(decide(&env(STACKS_ENV), HostIds { uid: 0, gid: 0 }).allow_root);
        let plain = decide(&[], HostIds { uid: 0, gid: 0 });
        assert!(plain.allow_root);
        assert_eq!(plain.user, "0:0");
    }
}
