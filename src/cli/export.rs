//! `jenv export`: the latest snapshot as files that rebuild it without jenv (a Dockerfile, its
//! requirement files, binder/, a devcontainer), and `--check` that they do.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::error::Hinted;
use crate::manifest::build::BuildSpec;
use crate::notebook::Notebook;
use crate::snapshot::export::{self, DEFAULT_DIR, Difference};
use crate::snapshot::exported;
use crate::snapshot::stop::{count, listing};
use crate::ui::Console;

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

pub async fn run(args: ExportArgs, console: Console) -> Result<ExitCode> {
    // It writes the manifest's [build] table, and --check builds what the folder names.
    let nb = Notebook::open_trusted("export", console).await?;
    crate::cli::settle::settle(&nb).await;
    if args.check {
        return check(&nb, args.json).await;
    }
    if !all_snapshotted(&nb).await? {
        return Ok(ExitCode::FAILURE);
    }
    let input = exported::export_input(&nb, DEFAULT_DIR).await?;
    let export = export::generate(&input);
    let written = exported::write(&nb.project, &nb.state, &export, args.force)?;
    let files: Vec<String> = written.paths.iter().map(|p| p.display().to_string()).collect();
    for warning in &export.warnings {
        console.warn(warning);
    }
    if args.json {
        let json = ExportJson {
            snapshot: &input.snapshot,
            from: &export.from,
            files,
            build: &export.build,
            warnings: &export.warnings,
        };
        console.json(&json)?;
    } else {
        for file in &files {
            console.result(file);
        }
        console.note(format_args!(
            "exported snapshot {} (FROM {}); `jenv up` builds from these files where neither a snapshot nor the registry has the image, `jenv export --check` checks them",
            input.snapshot, export.from
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(nb: &Notebook, json: bool) -> Result<ExitCode> {
    let console = nb.console;
    let input = exported::export_input(nb, DEFAULT_DIR).await?;
    let differences = exported::check(nb, &input).await?;
    let matches = differences.is_empty();
    if json {
        console.json(&CheckJson { snapshot: &input.snapshot, matches, differences: &differences })?;
    } else if matches {
        console.note(format_args!("the build holds the packages snapshot {} holds", input.snapshot));
    } else {
        for difference in &differences {
            console.result(difference);
        }
        console.note(format_args!(
            "the build differs from snapshot {} in {} package{}",
            input.snapshot,
            differences.len(),
            if differences.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(if matches { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `jenv down`'s guard: packages the notebook holds that no snapshot has are never left out of
/// an export in silence. On a terminal it offers to snapshot them first; without one it refuses.
/// Whether to go on.
async fn all_snapshotted(nb: &Notebook) -> Result<bool> {
    let console = nb.console;
    let changes = exported::unsnapshotted(nb).await?;
    if changes.is_empty() {
        return Ok(true);
    }
    if !console.interactive() {
        return Err(Hinted::new(
            format!(
                "the notebook has {} that no snapshot holds, which the exported files would leave out:{}",
                count(&changes),
                listing(&changes)
            ),
            "keep them with `jenv snapshot`, then run `jenv export` again",
        )
        .into());
    }
    console.note(format_args!("the notebook has {} that no snapshot holds:{}", count(&changes), listing(&changes)));
    let choices: &[(&[&str], bool)] = &[(&["s", "snapshot"], true), (&["c", "cancel", ""], false)];
    if console.choose("[s]napshot first, or [c]ancel? ", choices).await? != Some(true) {
        console.note("cancelled; nothing was written");
        return Ok(false);
    }
    let snapshot = crate::snapshot::take(nb, "taken by jenv export", false).await?;
    // stdout stays the export's (paths or JSON).
    console.note(format_args!("took snapshot {}:{}", nb.project.manifest.repository, snapshot.tag));
    Ok(true)
}
