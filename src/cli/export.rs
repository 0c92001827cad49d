//! `jenv export`: the latest snapshot as files that rebuild it without jenv (a Dockerfile, its
//! requirement files, binder/, a devcontainer), and `--check` that they do.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::error::Hinted;
use crate::manifest::build::BuildSpec;
use crate::notebook::Context;
use crate::packages::Change;
use crate::snapshot::export::{self, DEFAULT_DIR, Difference};
use crate::snapshot::exported;
use crate::ui::prompt;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Overwrite files jenv export did not write (and a [build] table naming other files)
    #[arg(long)]
    pub force: bool,
    /// Build the exported files as `jenv up` would and compare the image's packages with the
    /// snapshot's; exit 1 if they differ
    #[arg(long, conflicts_with = "force")]
    pub check: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ExportJson<'a> {
    snapshot: &'a str,
    from: &'a str,
    files: Vec<String>,
    build: &'a BuildSpec,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct CheckJson<'a> {
    snapshot: &'a str,
    matches: bool,
    differences: &'a [Difference],
}

pub async fn run(args: ExportArgs) -> Result<ExitCode> {
    // It writes the manifest's [build] table, and --check builds what the folder names.
    let ctx = Context::load_trusted("export").await?;
    crate::cli::settle::settle(&ctx).await;
    if args.check {
        return check(&ctx, args.json).await;
    }
    if !all_snapshotted(&ctx).await? {
        return Ok(ExitCode::FAILURE);
    }
    let input = ctx.export_input(DEFAULT_DIR).await?;
    let export = export::generate(&input);
    let written = exported::write(&ctx.project, &ctx.state, &export, args.force)?;
    let files: Vec<String> = written.paths.iter().map(|p| p.display().to_string()).collect();
    for warning in &export.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        let json = ExportJson {
            snapshot: &input.snapshot,
            from: &export.from,
            files,
            build: &export.build,
            warnings: &export.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for file in &files {
            println!("{file}");
        }
        eprintln!(
            "exported snapshot {} (FROM {}); `jenv up` builds from these files where neither a snapshot nor the registry has the image, `jenv export --check` checks them",
            input.snapshot, export.from
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(ctx: &Context, json: bool) -> Result<ExitCode> {
    let input = ctx.export_input(DEFAULT_DIR).await?;
    let differences = ctx.check_export(&input).await?;
    let matches = differences.is_empty();
    if json {
        let json = CheckJson { snapshot: &input.snapshot, matches, differences: &differences };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else if matches {
        eprintln!("the build holds the packages snapshot {} holds", input.snapshot);
    } else {
        for difference in &differences {
            println!("{difference}");
        }
        eprintln!(
            "the build differs from snapshot {} in {} package{}",
            input.snapshot,
            differences.len(),
            if differences.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if matches { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `jenv down`'s guard: packages the notebook holds that no snapshot has are never left out of
/// an export in silence. On a terminal it offers to snapshot them first; without one it refuses.
/// Whether to go on.
async fn all_snapshotted(ctx: &Context) -> Result<bool> {
    let Some(container) = ctx.container().await? else { return Ok(true) };
    if !container.is_running() && !container.is_paused() {
        return Err(Hinted::new(
            "the notebook is stopped, so jenv cannot tell whether it holds packages no snapshot has",
            "run `jenv up` and then `jenv snapshot`, or drop it with `jenv down --discard`; then run `jenv export` again",
        )
        .into());
    }
    let container = ctx.running_container().await?;
    let changes = ctx.pending_changes(&container).await?;
    if changes.is_empty() {
        return Ok(true);
    }
    let listing: String = changes.iter().map(|c: &Change| format!("\n  {c}")).collect();
    let count = format!("{} package change{}", changes.len(), if changes.len() == 1 { "" } else { "s" });
    if !prompt::interactive() {
        return Err(Hinted::new(
            format!(
                "the notebook has {count} that no snapshot holds, which the exported files would leave out:{listing}"
            ),
            "keep them with `jenv snapshot`, then run `jenv export` again",
        )
        .into());
    }
    eprintln!("the notebook has {count} that no snapshot holds:{listing}");
    let mut stdin = std::io::stdin().lock();
    loop {
        eprint!("[s]napshot first, or [c]ancel? ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        if stdin.read_line(&mut answer)? == 0 {
            return Ok(false);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "s" | "snapshot" => break,
            "c" | "cancel" | "" => {
                eprintln!("cancelled; nothing was written");
                return Ok(false);
            }
            _ => continue,
        }
    }
    let snapshot = ctx.snapshot("taken by jenv export", false).await?;
    // stdout stays the export's (paths or JSON).
    eprintln!("took snapshot {}:{}", ctx.project.manifest.repository, snapshot.tag);
    Ok(true)
}
