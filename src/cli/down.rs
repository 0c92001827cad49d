//! `jenv down`: the notebook stopped and removed, never losing installs silently; with `--idle`,
//! every notebook of yours that has been idle that long.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::types::Container;
use crate::error::Hinted;
use crate::manifest::{self, keys};
use crate::notebook::Notebook;
use crate::notebook::idle::{self, Idleness};
use crate::notebook::leases::known_tokens;
use crate::snapshot::stop::{Leave, Stopping};
use crate::state::StateDir;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop even if packages were changed since the last snapshot, dropping those changes
    #[arg(long, conflicts_with_all = ["snapshot", "idle"])]
    pub discard: bool,
    /// Take a snapshot first, then stop
    #[arg(long)]
    pub snapshot: bool,
    /// Stop every notebook of yours with no busy kernel and no activity for DURATION (`90s`, `30m`, `2h`)
    #[arg(long, value_name = "DURATION")]
    pub idle: Option<String>,
    /// With --idle: say what would be stopped, stop nothing
    #[arg(long, requires = "idle")]
    pub dry_run: bool,
    /// With --idle: print what was done to each notebook as JSON
    #[arg(long, requires = "idle")]
    pub json: bool,
}

pub async fn run(args: DownArgs, console: Console) -> Result<ExitCode> {
    if let Some(duration) = &args.idle {
        return idle_stop(duration, &args, console).await;
    }
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

/// What `down --idle` did to one notebook (`--json` prints a list of these).
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    folder: String,
    /// `stopped`, `skipped` (idle, but it could not be stopped without losing something),
    /// `kept` (not idle), or with `--dry-run` `would_stop`.
    action: &'static str,
    reason: String,
}

/// Stops each running notebook of this user's state folder that has been idle for `duration`,
/// except those holding installs no snapshot has (unless `--snapshot` takes one first).
async fn idle_stop(duration: &str, args: &DownArgs, console: Console) -> Result<ExitCode> {
    let wanted = keys::parse_duration(duration).ok_or_else(|| {
        Hinted::new(
            format!("`--idle {duration}` is not a duration"),
            "write a number with a unit, e.g. `--idle 90s`, `--idle 30m` or `--idle 2h`",
        )
    })?;
    let engine = Engine::connect(&console).await?;
    let state = StateDir::locate()?;
    let tokens = known_tokens(&state);
    // Notebooks of this state folder only: another user's are theirs to stop.
    let mine: Vec<Container> = engine
        .list(None)
        .await?
        .into_iter()
        .filter(|c| (c.is_running() || c.is_paused()) && std::path::Path::new(&c.home) == state.root)
        .collect();
    let judged = idle::judge_all(&engine, &tokens, &mine, wanted).await;
    let mut outcomes = Vec::new();
    for (container, idleness) in mine.iter().zip(judged) {
        let (action, reason) = match idleness {
            Idleness::Active(reason) => ("kept", reason),
            Idleness::Idle(secs) => stop_one(container, secs, wanted, args, console).await,
        };
        outcomes.push(Outcome { name: container.name.clone(), folder: container.folder.clone(), action, reason });
    }
    if args.json {
        console.json(&outcomes)?;
    } else if outcomes.is_empty() {
        console.result("no notebooks of yours are running");
    } else {
        for o in &outcomes {
            console.result(format_args!("{:10} {}  ({}): {}", o.action.replace('_', " "), o.name, o.folder, o.reason));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops one idle notebook the way `jenv down` does in its folder; says what happened, and why.
async fn stop_one(
    container: &Container,
    idle_secs: u64,
    wanted: u64,
    args: &DownArgs,
    console: Console,
) -> (&'static str, String) {
    let idle_words = idle::idle_words(idle_secs);
    let project = match manifest::discover(std::path::Path::new(&container.folder)) {
        Ok(project) if project.manifest.name == container.name => project,
        Ok(_) => return ("skipped", format!("{idle_words}, but its folder's .jupyter-env names another environment")),
        Err(err) => return ("skipped", format!("{idle_words}, but its .jupyter-env cannot be read: {err:#}")),
    };
    let nb = match Notebook::for_project(project, console).await {
        Ok(nb) => nb,
        Err(err) => return ("skipped", format!("{err:#}")),
    };
    crate::cli::settle::settle(&nb).await;
    let leave = if args.snapshot { Leave::Snapshot } else { Leave::AskIfChanged };
    let stopping = match Stopping::begin(&nb, leave).await {
        Ok(stopping) => stopping,
        Err(err) => return ("skipped", format!("{idle_words}, but {err:#}")),
    };
    if stopping.question().is_some() {
        return (
            "skipped",
            format!(
                "{idle_words}, but it holds {} no snapshot has: run `jenv snapshot` in {}, or `jenv down --idle {} --snapshot`",
                stopping.undecided(),
                container.folder,
                args.idle.as_deref().unwrap_or_default(),
            ),
        );
    }
    // Under the folder's lock now: someone may have come back since it was judged.
    let tokens = known_tokens(&nb.state);
    let again = idle::judge_all(&nb.engine, &tokens, std::slice::from_ref(container), wanted).await;
    if let Some(Idleness::Active(reason)) = again.first() {
        return ("kept", reason.clone());
    }
    if args.dry_run {
        let how = if args.snapshot { ", after a snapshot" } else { "" };
        return ("would_stop", format!("{idle_words}{how}"));
    }
    match stopping.finish().await {
        Ok(stopped) => match stopped.snapshot {
            Some(snapshot) => ("stopped", format!("{idle_words}; snapshot {} taken first", snapshot.tag)),
            None => ("stopped", idle_words),
        },
        Err(err) => ("skipped", format!("{idle_words}, but stopping failed: {err:#}")),
    }
}
