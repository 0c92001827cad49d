//! `jenv trust` and `jenv untrust`: this user's say on what a folder's manifest may run.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::manifest::trust::{self, ManifestFile, TrustStore, Verdict};
use crate::manifest::{self, Project};
use crate::state::StateDir;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Show the manifest (or what changed since you trusted it) and whether it is trusted; change nothing
    #[arg(long)]
    pub show: bool,
}

pub fn trust(args: TrustArgs, console: Console) -> Result<ExitCode> {
    let (project, file, store) = load()?;
    let verdict = store.verdict(&file)?;
    if args.show {
        let standing = match verdict {
            Verdict::Trusted => "trusted",
            Verdict::New => "not trusted",
            Verdict::Changed { .. } => "not trusted (changed since you trusted it)",
        };
        console.result(format_args!("{}: {standing}", file.path.display()));
        console.result_lines(&trust::review_text(&verdict, &file, &project.manifest, &project.folder));
        return Ok(ExitCode::SUCCESS);
    }
    if verdict == Verdict::Trusted {
        console.result(format_args!("{} is already trusted", file.path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    let reach = trust::beyond_the_folder(&project.manifest, &project.folder);
    for item in &reach {
        console.note(format_args!("note: it {item}"));
    }
    store.trust(&file)?;
    console.result(format_args!("trusted {} (image {})", file.path.display(), project.manifest.image));
    Ok(ExitCode::SUCCESS)
}

pub fn untrust(console: Console) -> Result<ExitCode> {
    let (_, file, store) = load()?;
    if store.untrust(&file.path)? {
        console.result(format_args!("{} is no longer trusted", file.path.display()));
    } else {
        console.result(format_args!("{} was not trusted", file.path.display()));
    }
    Ok(ExitCode::SUCCESS)
}

fn load() -> Result<(Project, ManifestFile, TrustStore)> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let project = manifest::discover(&cwd)?;
    let file = ManifestFile::of(&project);
    Ok((project, file, TrustStore::new(&StateDir::locate()?)))
}
