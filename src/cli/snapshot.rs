//! `jenv snapshot`: the running notebook committed into this folder's own image.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::notebook::Notebook;
use crate::packages::Change;
use crate::snapshot::{self, Snapshot};
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// A note kept with the snapshot (shown by `jenv history`)
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Squash the image into one layer now, whatever its layer count
    #[arg(long)]
    pub flatten: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SnapshotJson<'a> {
    tag: &'a str,
    image: &'a str,
    size_added: i64,
    commit_ms: u128,
    total_ms: u128,
    layers: usize,
    flattened: bool,
    changes: &'a [Change],
}

pub async fn run(args: SnapshotArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("snapshot", console).await?;
    crate::cli::settle::settle(&nb).await;
    let snapshot = snapshot::take(&nb, &args.message, args.flatten).await?;
    if args.json {
        console.json(&json(&snapshot))?;
    } else {
        console.result(format_args!("{}:{}", nb.project.manifest.repository, snapshot.tag));
        console.note(snapshot.summary());
        console.note("the next `jenv up` starts from it");
    }
    Ok(ExitCode::SUCCESS)
}

fn json(snapshot: &Snapshot) -> SnapshotJson<'_> {
    SnapshotJson {
        tag: &snapshot.tag,
        image: &snapshot.image,
        size_added: snapshot.size_added,
        commit_ms: snapshot.committing.as_millis(),
        total_ms: snapshot.total.as_millis(),
        layers: snapshot.layers,
        flattened: snapshot.flattened,
        changes: &snapshot.changes,
    }
}
