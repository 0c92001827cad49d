//! `jenv push`: this folder's snapshots to the registry its repository names.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::notebook::Notebook;
use crate::snapshot::store::SnapshotStore;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push every snapshot of the folder, not only the current one
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: PushArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    crate::cli::settle::settle(&nb).await;
    let pushed = SnapshotStore::of(&nb).push(args.all).await?;
    if args.json {
        console.json(&pushed)?;
    } else {
        for tag in &pushed.tags {
            console.result(format_args!("pushed {}:{tag}", pushed.repository));
        }
    }
    Ok(ExitCode::SUCCESS)
}
