use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{JsonArgs, SnapshotArgs};
use crate::notebook::Context;
use crate::packages::Change;
use crate::snapshot::Snapshot;

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

pub async fn diff(args: JsonArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    crate::cli::settle::settle(&ctx).await;
    let container = ctx.running_container().await?;
    let changes = ctx.pending_changes(&container).await?;
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

pub async fn rebuild() -> Result<ExitCode> {
    let ctx = Context::load_trusted("rebuild").await?;
    crate::cli::settle::settle(&ctx).await;
    let record = ctx.rebuild().await?;
    println!("{}:{}", ctx.project.manifest.repository, record.snapshot);
    eprintln!(
        "rebuilt with {} recorded pip and {} conda packages; the next `jenv up` starts from it",
        record.pip.len(),
        record.conda.len()
    );
    Ok(ExitCode::SUCCESS)
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
