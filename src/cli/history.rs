use std::process::ExitCode;

use anyhow::Result;

use crate::cli::snapshot::human_bytes;
use crate::cli::{JsonArgs, PruneArgs, RollbackArgs};
use crate::notebook::Context;
use crate::snapshot::clock;

pub async fn history(args: JsonArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    crate::cli::settle::settle(&ctx).await;
    let entries = ctx.history().await?;
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

pub async fn rollback(args: RollbackArgs) -> Result<ExitCode> {
    let ctx = Context::load_trusted("rollback").await?;
    crate::cli::settle::settle(&ctx).await;
    let target = ctx.rollback(args.tag.as_deref()).await?;
    println!("{}:{}", ctx.project.manifest.repository, target.tag);
    let running = ctx.container().await?.is_some_and(|c| c.is_running());
    eprintln!(
        "the next `jenv up` starts from {}{}",
        target.tag,
        if running { "; the running notebook is unchanged until `jenv down` and `jenv up`" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn prune(args: PruneArgs) -> Result<ExitCode> {
    let ctx = Context::load_trusted("prune").await?;
    crate::cli::settle::settle(&ctx).await;
    let pruned = ctx.prune(args.keep).await?;
    for tag in &pruned.removed {
        println!("removed {tag}");
    }
    for tag in &pruned.in_use {
        eprintln!("kept {tag}: in use");
    }
    if pruned.removed.is_empty() {
        eprintln!("nothing to prune (keeping the newest {})", args.keep);
    }
    Ok(ExitCode::SUCCESS)
}
