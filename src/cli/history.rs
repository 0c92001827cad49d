//! `jenv history`: this folder's snapshots.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::notebook::Notebook;
use crate::snapshot::clock;
use crate::snapshot::store::SnapshotStore;
use crate::ui::format::human_bytes;

pub async fn run(args: JsonArgs) -> Result<ExitCode> {
    let nb = Notebook::open().await?;
    crate::cli::settle::settle(&nb).await;
    let entries = SnapshotStore::of(&nb).list().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("no snapshots yet; `jenv snapshot` takes one");
        return Ok(ExitCode::SUCCESS);
    }
    println!("  {:24} {:23} {:>11}  MESSAGE", "TAG", "CREATED", "ADDED");
    for e in entries {
        let size = match e.size_added {
            _ if e.interrupted => "interrupted".to_string(),
            Some(size) => human_bytes(size),
            None => "-".to_string(),
        };
        let marker = if e.current { "*" } else { " " };
        println!("{marker} {:24} {:23} {size:>11}  {}", e.tag, clock::display(e.created), e.message);
    }
    Ok(ExitCode::SUCCESS)
}
