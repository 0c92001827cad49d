//! `jenv prune`: old snapshots, or with `--orphans` the containers whose folders are gone.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::Engine;
use crate::manifest;
use crate::notebook::{Notebook, orphans};
use crate::snapshot::store::SnapshotStore;
use crate::state::StateDir;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many of the newest snapshots to keep
    #[arg(long, default_value_t = 5)]
    pub keep: usize,
    /// Instead: remove jenv containers whose folders no longer exist, and free their ports
    #[arg(long, conflicts_with = "keep")]
    pub orphans: bool,
}

pub async fn run(args: PruneArgs, console: Console) -> Result<ExitCode> {
    if args.orphans { prune_orphans(console).await } else { prune_snapshots(args.keep, console).await }
}

async fn prune_snapshots(keep: usize, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("prune", console).await?;
    crate::cli::settle::settle(&nb).await;
    let pruned = SnapshotStore::of(&nb).prune(keep).await?;
    for tag in &pruned.removed {
        console.result(format_args!("removed {tag}"));
    }
    for tag in &pruned.in_use {
        console.note(format_args!("kept {tag}: in use"));
    }
    if pruned.removed.is_empty() {
        console.note(format_args!("nothing to prune (keeping the newest {keep})"));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--orphans`: removes the containers whose folders are gone, anywhere, no manifest needed.
async fn prune_orphans(console: Console) -> Result<ExitCode> {
    let state = StateDir::locate()?;
    let engine = Engine::connect(&console).await?;
    let found = orphans::find(&engine, &state).await?;
    orphans::remove(&engine, &state, &found).await?;
    for orphan in &found {
        console.result(format_args!(
            "removed {} (its folder {} is gone)",
            manifest::container_name(&orphan.name),
            orphan.folder
        ));
    }
    if found.is_empty() {
        console.note("no jenv containers whose folders are gone");
    }
    Ok(ExitCode::SUCCESS)
}
