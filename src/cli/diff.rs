//! `jenv diff`: package changes no snapshot holds yet.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::notebook::Notebook;

pub async fn run(args: JsonArgs) -> Result<ExitCode> {
    let nb = Notebook::open().await?;
    crate::cli::settle::settle(&nb).await;
    let container = nb.find_running().await?;
    let changes = nb.packages().pending_changes(&container).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else if changes.is_empty() {
        eprintln!("no package changes since the notebook started or was last snapshotted");
    } else {
        for change in &changes {
            println!("{change}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
