//! `jenv down`: the notebook stopped and removed, never losing installs silently.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::error::Hinted;
use crate::notebook::Context;
use crate::packages::Change;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop even if packages were changed since the last snapshot, dropping those changes
    #[arg(long, conflicts_with = "snapshot")]
    pub discard: bool,
    /// Take a snapshot first, then stop
    #[arg(long)]
    pub snapshot: bool,
}

pub async fn run(args: DownArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    crate::cli::settle::settle(&ctx).await;
    let leave = if args.discard {
        Leave::Discard
    } else if args.snapshot {
        Leave::Snapshot
    } else {
        Leave::AskIfChanged
    };
    stop_safely(&ctx, leave).await
}

/// What to do with package changes that are not in a snapshot when the notebook stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Discard,
    Snapshot,
    /// Ask on a terminal; refuse without one.
    AskIfChanged,
}

/// Stops the notebook without losing work silently: changes since the last snapshot are
/// snapshotted, discarded on request, or the stop is refused and the notebook keeps running.
pub async fn stop_safely(ctx: &Context, leave: Leave) -> Result<ExitCode> {
    // Held throughout, so a snapshot in progress is waited for before changes are counted.
    let op = ctx.op_lock("jenv down").await?;
    let container = match ctx.container().await? {
        // Under the lock, a paused notebook was paused outside jenv: say so.
        Some(container) if container.is_paused() => Some(ctx.require_running(Some(container))?),
        other => other,
    };
    let mut leave = leave;
    if let Some(container) = container.as_ref().filter(|_| leave == Leave::AskIfChanged) {
        if !container.is_running() {
            return Err(Hinted::new(
                "the notebook is stopped, so jenv cannot tell whether it holds packages no snapshot has",
                "run `jenv up` and then `jenv snapshot` or `jenv down`, or drop it with `jenv down --discard`",
            )
            .into());
        }
        let changes = ctx.pending_changes(container).await?;
        if !changes.is_empty() {
            leave = match ask(&changes)? {
                Some(choice) => choice,
                None => {
                    eprintln!("cancelled; the notebook keeps running");
                    return Ok(ExitCode::FAILURE);
                }
            };
        }
    }
    if leave == Leave::Snapshot && container.is_some() {
        let snapshot = ctx.snapshot_locked(&op, "taken by jenv down", false).await?;
        println!("{}:{}", ctx.project.manifest.repository, snapshot.tag);
        eprintln!("{}", snapshot.summary());
        eprintln!("the next `jenv up` starts from it");
    }
    if ctx.down_locked(&op).await? {
        eprintln!("stopped {}", ctx.project.container_name());
    } else {
        eprintln!("{} was not running", ctx.project.container_name());
    }
    Ok(ExitCode::SUCCESS)
}

/// On a terminal: snapshot first, discard, or cancel (`None`). Without one: a refusal naming the
/// changes and both ways out.
fn ask(changes: &[Change]) -> Result<Option<Leave>> {
    let listing: String = changes.iter().map(|c| format!("\n  {c}")).collect();
    let count = format!("{} package change{}", changes.len(), if changes.len() == 1 { "" } else { "s" });
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Hinted::new(
            format!("the notebook has {count} that no snapshot holds; stopping it would lose them:{listing}"),
            "keep them with `jenv snapshot` (or `jenv down --snapshot`), or drop them with `jenv down --discard`",
        )
        .into());
    }
    eprintln!("the notebook has {count} that no snapshot holds:{listing}");
    let mut stdin = std::io::stdin().lock();
    loop {
        eprint!("[s]napshot first, [d]iscard them, or [c]ancel? ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        if stdin.read_line(&mut answer)? == 0 {
            return Ok(None);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "s" | "snapshot" => return Ok(Some(Leave::Snapshot)),
            "d" | "discard" => return Ok(Some(Leave::Discard)),
            "c" | "cancel" | "" => return Ok(None),
            _ => continue,
        }
    }
}
