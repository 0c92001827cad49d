//! `jenv down`: the notebook stopped and removed, never losing installs silently.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::notebook::Notebook;
use crate::snapshot::stop::{Leave, Stopping};
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop even if packages were changed since the last snapshot, dropping those changes
    #[arg(long, conflicts_with = "snapshot")]
    pub discard: bool,
    /// Take a snapshot first, then stop
    #[arg(long)]
    pub snapshot: bool,
}

pub async fn run(args: DownArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    crate::cli::settle::settle(&nb).await;
    let leave = if args.discard {
        Leave::Discard
    } else if args.snapshot {
        Leave::Snapshot
    } else {
        Leave::AskIfChanged
    };
    crate::cli::stopping::finish(&nb, Stopping::begin(&nb, leave).await?).await
}
