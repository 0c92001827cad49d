//! `jenv snapshot`: the running notebook committed into this folder's own image.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::notebook::Context;
use crate::packages::Change;
use crate::snapshot::Snapshot;

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

pub async fn run(args: SnapshotArgs) -> Result<ExitCode> {
    let ctx = Context::load_trusted("snapshot").await?;
    crate::cli::settle::settle(&ctx).await;
    let snapshot = ctx.snapshot(&args.message, args.flatten).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json(&snapshot))?);
    } else {
        report(&ctx, &snapshot);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(ctx: &Context, snapshot: &Snapshot) {
    println!("{}:{}", ctx.project.manifest.repository, snapshot.tag);
    eprintln!(
        "snapshot {} added {} ({} package change{}); committed in {} ms while the notebook kept running, {} layer{}{}",
        snapshot.tag,
        human_bytes(snapshot.size_added),
        snapshot.changes.len(),
        if snapshot.changes.len() == 1 { "" } else { "s" },
        snapshot.committing.as_millis(),
        snapshot.layers,
        if snapshot.layers == 1 { "" } else { "s" },
        if snapshot.flattened { " (flattened)" } else { "" },
    );
    eprintln!("the next `jenv up` starts from it");
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

pub fn human_bytes(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker_shows_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(52_428_800), "52.4 MB");
        assert_eq!(human_bytes(1_500), "1.5 kB");
    }
}
