//! `jenv diff`: package changes no snapshot holds yet.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::notebook::Notebook;
use crate::ui::Console;

pub async fn run(args: JsonArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    crate::cli::settle::settle(&nb).await;
    let container = nb.find_running().await?;
    let changes = nb.packages().pending_changes(&container).await?;
    if args.json {
        console.json(&changes)?;
    } else if changes.is_empty() {
        console.note("no package changes since the notebook started or was last snapshotted");
    } else {
        for change in &changes {
            console.result(change);
        }
    }
    Ok(ExitCode::SUCCESS)
}
