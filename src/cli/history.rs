//! `jenv history`: this folder's snapshots.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::clock;
use crate::notebook::Notebook;
use crate::snapshot::store::SnapshotStore;
use crate::ui::Console;
use crate::ui::format::human_bytes;

pub async fn run(args: JsonArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    crate::cli::settle::settle(&nb).await;
    let entries = SnapshotStore::of(&nb).list().await?;
    if args.json {
        console.json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        console.note("no snapshots yet; `jenv snapshot` takes one");
        return Ok(ExitCode::SUCCESS);
    }
    console.result(format_args!("  {:24} {:23} {:>11}  MESSAGE", "TAG", "CREATED", "ADDED"));
    for e in entries {
        let size = match e.size_added {
            _ if e.interrupted => "interrupted".to_string(),
            Some(size) => human_bytes(size),
            None => "-".to_string(),
        };
        let marker = if e.current { "*" } else { " " };
        console.result(format_args!(
            "{marker} {:24} {:23} {size:>11}  {}",
            e.tag,
            clock::display(e.created),
            e.message
        ));
    }
    Ok(ExitCode::SUCCESS)
}
