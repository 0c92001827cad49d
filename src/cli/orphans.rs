use std::process::ExitCode;

use anyhow::Result;

use crate::engine::Engine;
use crate::manifest;
use crate::notebook::orphans;
use crate::state::StateDir;

/// `jenv prune --orphans`: removes the containers whose folders are gone, anywhere, no manifest needed.
pub async fn prune() -> Result<ExitCode> {
    let state = StateDir::locate()?;
    let engine = Engine::connect().await?;
    let found = orphans::find(&engine, &state).await?;
    orphans::remove(&engine, &state, &found).await?;
    for orphan in &found {
        println!("removed {} (its folder {} is gone)", manifest::container_name(&orphan.name), orphan.folder);
    }
    if found.is_empty() {
        eprintln!("no jenv containers whose folders are gone");
    }
    Ok(ExitCode::SUCCESS)
}
