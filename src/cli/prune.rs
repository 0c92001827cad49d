//! `jenv prune`: old snapshots, or with `--orphans` the containers whose folders are gone.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::Engine;
use crate::manifest;
use crate::notebook::{Notebook, orphans};
use crate::snapshot::store::SnapshotStore;
use crate::state::StateDir;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many of the newest snapshots to keep
    #[arg(long, default_value_t = 5)]
    pub keep: usize,
    /// Instead: remove jenv containers whose folders no longer exist, and free their ports
    #[arg(long, conflicts_with = "keep")]
    pub orphans: bool,
}

pub async fn run(args: PruneArgs) -> Result<ExitCode> {
    if args.orphans { prune_orphans().await } else { prune_snapshots(args.keep).await }
}

async fn prune_snapshots(keep: usize) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("prune").await?;
    crate::cli::settle::settle(&nb).await;
    let pruned = SnapshotStore::of(&nb).prune(keep).await?;
    for tag in &pruned.removed {
        println!("removed {tag}");
    }
    for tag in &pruned.in_use {
        eprintln!("kept {tag}: in use");
    }
    if pruned.removed.is_empty() {
        eprintln!("nothing to prune (keeping the newest {keep})");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--orphans`: removes the containers whose folders are gone, anywhere, no manifest needed.
async fn prune_orphans() -> Result<ExitCode> {
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
