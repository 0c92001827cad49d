//! Containers jenv made for folders that no longer exist: found by their labels, removed with
//! their leases, so they neither hold host ports nor show up in `jenv status --all` for ever.

use std::path::Path;

use anyhow::Result;

use crate::engine::Engine;
use crate::engine::types::Container;
use crate::state::{Loaded, StateDir};

/// This state folder's containers whose `jenv.folder` is gone. A folder that cannot be checked
/// (no permission) is not called gone.
pub async fn find(engine: &Engine, state: &StateDir) -> Result<Vec<Container>> {
    let home = state.root.to_string_lossy();
    let containers = engine.list(None).await?;
    Ok(containers.into_iter().filter(|c| c.home == home && folder_is_gone(&c.folder)).collect())
}

fn folder_is_gone(folder: &str) -> bool {
    !folder.is_empty() && matches!(Path::new(folder).try_exists(), Ok(false))
}

/// Removes the containers and forgets their environments' records (token, ports), which only
/// made sense for the folder.
pub async fn remove(engine: &Engine, state: &StateDir, orphans: &[Container]) -> Result<()> {
    for orphan in orphans {
        engine.remove(&orphan.id).await?;
    }
    if !state.root.exists() {
        return Ok(());
    }
    let lock = state.lock()?;
    let Loaded::Ok(mut current) = lock.read() else { return Ok(()) };
    let before = current.environments.len();
    current
        .environments
        .retain(|name, record| !orphans.iter().any(|o| &o.name == name && Path::new(&o.folder) == record.folder));
    if current.environments.len() != before {
        lock.write(&current)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_folder_known_to_be_missing_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!folder_is_gone(&dir.path().to_string_lossy()));
        assert!(folder_is_gone(&dir.path().join("removed").to_string_lossy()));
        assert!(!folder_is_gone(""), "a container without the label is not judged");
    }
}
