//! `jenv up`: this folder's notebook started (writing a first manifest if asked), its URL printed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::StreamExt;

use crate::cli::stopping;
use crate::error::Hinted;
use crate::manifest::trust::write_trusted;
use crate::manifest::user_config::UserConfig;
use crate::manifest::{self, FILE_NAME, Manifest, Project};
use crate::notebook::Notebook;
use crate::notebook::status::NotebookStatus;
use crate::snapshot::stop::{Leave, Stopping};
use crate::state::StateDir;
use crate::ui::Console;
use crate::watch::Options;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// With no .jupyter-env here or above, write the default one here without asking
    #[arg(long)]
    pub init: bool,
    /// Stay in the foreground streaming logs; Ctrl-C stops the notebook
    #[arg(long)]
    pub attach: bool,
    /// With --attach: also run `jenv watch` in the same terminal (implies --attach)
    #[arg(long)]
    pub watch: bool,
    /// With --watch: install and snapshot without asking
    #[arg(long, requires = "watch")]
    pub yes: bool,
    /// With --watch: ask before each install even if the manifest or user config says `yes = true`
    #[arg(long, requires = "watch", conflicts_with = "yes")]
    pub ask: bool,
    /// Print the result as JSON
    #[arg(long, conflicts_with_all = ["attach", "watch"])]
    pub json: bool,
}

pub async fn run(args: UpArgs, console: Console) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let project = match manifest::find(&cwd)? {
        Some(project) => {
            crate::manifest::trust::require(&project, &StateDir::locate()?, "up", &console).await?;
            project
        }
        None => first_run(&cwd, args.init, console).await?,
    };
    let nb = Notebook::for_project(project, console).await?;
    crate::cli::settle::settle(&nb).await;
    if let Some(container) = nb.find().await? {
        let differs = nb.drift(&container)?;
        if !differs.is_empty() {
            // Recreated only through the guard `down` uses: installs no snapshot holds are never lost silently.
            console.note(format_args!(
                "the notebook no longer matches .jupyter-env ({}); recreating it",
                differs.join(", ")
            ));
            // The guard counts installs from inside the container: a stopped one is started first.
            let stopping = Stopping::begin_starting(&nb).await?;
            if stopping::finish(&nb, stopping).await? != ExitCode::SUCCESS {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    // Files that build the folder's image (`jenv export` writes them), where neither a snapshot
    // nor the registry has it.
    crate::snapshot::build::build_if_missing(&nb).await?;
    let live = nb.up().await?;
    let endpoint = nb.engine.endpoint();
    if !endpoint.ports_reachable_here() {
        console.note(format_args!("note: the URL's port is on the loopback of the engine's host ({}); forward it from there, e.g. `ssh -NL PORT:127.0.0.1:PORT HOST`",
            endpoint.host));
    }
    if args.json {
        console.json(&NotebookStatus::from_live(&live))?;
    } else {
        console.result(&live.url);
    }
    if args.attach || args.watch {
        let config = UserConfig::load(&console)?;
        let watch = args.watch.then(|| Options::from_flags(args.yes, args.ask, false, &nb.project.manifest, &config));
        return attach(&nb, watch).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// No manifest in `cwd` or above: write the default one into `cwd` when asked to (`--init`), or
/// when the person at the terminal says yes to it; otherwise the usual "no manifest" error.
async fn first_run(cwd: &Path, init: bool, console: Console) -> Result<Project> {
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    if !init && !console.interactive() {
        return Err(manifest::not_found(cwd));
    }
    let manifest = Manifest::default_for(&folder, &UserConfig::load(&console)?)?;
    if !init {
        console.note(format_args!(
            "no {FILE_NAME} here or above; this is the one jenv would write in {}:",
            folder.display()
        ));
        console.note_lines(&manifest.to_toml().lines().map(|line| format!("  {line}\n")).collect::<String>());
        if !console.confirm("write it and start the notebook?").await? {
            return Err(Hinted::new("nothing was written", "`jenv init` writes a manifest with your choices").into());
        }
    }
    write_trusted(&folder, &manifest, &StateDir::locate()?)?;
    console.note(format_args!("wrote {} (image {})", folder.join(FILE_NAME).display(), manifest.image));
    let text = manifest.to_toml();
    Ok(Project { folder, manifest, text })
}

/// Streams the notebook's logs like `docker run -it`; Ctrl-C stops the notebook, following the
/// same rule as `jenv down` for changes that no snapshot holds.
async fn attach(nb: &Notebook, watch: Option<Options>) -> Result<ExitCode> {
    let console = nb.console;
    let mut interrupts = crate::ui::signals::Interrupts::listen();
    console.note("streaming logs; press Ctrl-C to stop the notebook");
    let mut logs = nb.engine.logs(&nb.project.container_name(), true, Some(0));
    let mut watcher = Box::pin(async {
        match watch {
            Some(options) => crate::watch::run(nb, options, &|event| console.event(event, &event.text())).await,
            None => std::future::pending().await,
        }
    });
    let stopped_by_user = loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(chunk) => {
                    let chunk = chunk?;
                    console.container_output(chunk.stream(), chunk.bytes())?;
                }
                None => break false,
            },
            result = &mut watcher => match result? {},
            _ = interrupts.recv() => break true,
        }
    };
    // The watcher may hold the folder's lock (a snapshot of its own): let go of it first.
    drop(watcher);
    if stopped_by_user {
        console.note("stopping the notebook");
        stopping::finish(nb, Stopping::begin(nb, Leave::AskIfChanged).await?).await
    } else {
        // Its filesystem may hold installs no snapshot has: keep the container.
        console.note("the notebook stopped by itself; `jenv up` starts it again, `jenv down` removes it");
        Ok(ExitCode::FAILURE)
    }
}
