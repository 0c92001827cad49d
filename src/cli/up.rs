use std::process::ExitCode;

use std::path::Path;

use anyhow::{Context as _, Result};
use futures_util::StreamExt;

use crate::cli::UpArgs;
use crate::cli::down::{self, Leave};
use crate::engine::types::StartError;
use crate::error::Hinted;
use crate::manifest::user_config::UserConfig;
use crate::manifest::{self, FILE_NAME, Project};
use crate::notebook::Context;
use crate::state::StateDir;
use crate::ui::prompt;
use crate::watch::Options;

pub async fn run(args: UpArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let project = match manifest::find(&cwd)? {
        Some(project) => {
            crate::manifest::trust::require(&project, &StateDir::locate()?, "up")?;
            project
        }
        None => first_run(&cwd, args.init)?,
    };
    let ctx = Context::for_project(project).await?;
    crate::cli::settle::settle(&ctx).await;
    if let Some(container) = ctx.container().await? {
        let differs = ctx.drift(&container)?;
        if !differs.is_empty() {
            // Recreated only through the guard `down` uses: installs no snapshot holds are never lost silently.
            eprintln!("the notebook no longer matches .jupyter-env ({}); recreating it", differs.join(", "));
            if !container.is_running() && !container.is_paused() {
                // The guard counts installs from inside the container, so it has to run.
                eprintln!("starting the stopped notebook to check for installs no snapshot holds");
                match ctx.engine.start(&container.id).await {
                    Ok(()) => {}
                    Err(StartError::PortTaken(reason)) => {
                        return Err(Hinted::new(
                            format!("cannot start the stopped notebook to check it: {reason}"),
                            "free that port, or drop the stopped notebook with `jenv down --discard`",
                        )
                        .into());
                    }
                    Err(StartError::Other(err)) => return Err(err),
                }
            }
            if down::stop_safely(&ctx, Leave::AskIfChanged).await? != ExitCode::SUCCESS {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let running = ctx.up().await?;
    let endpoint = ctx.engine.endpoint();
    if !endpoint.ports_reachable_here() {
        eprintln!(
            "note: the URL's port is on the loopback of the engine's host ({}); forward it from there, e.g. `ssh -NL PORT:127.0.0.1:PORT HOST`",
            endpoint.host
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&crate::cli::status::Entry::from_running(&running))?);
    } else {
        println!("{}", running.url);
    }
    if args.attach || args.watch {
        let configured = ctx.project.manifest.watch.yes || UserConfig::load()?.watch_yes();
        let yes = args.yes || (configured && !args.ask);
        let watch = args.watch.then_some(Options { yes, json: false });
        return attach(&ctx, watch).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// No manifest in `cwd` or above: write the default one into `cwd` when asked to (`--init`), or
/// when the person at the terminal says yes to it; otherwise the usual "no manifest" error.
fn first_run(cwd: &Path, init: bool) -> Result<Project> {
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    if !init && !prompt::interactive() {
        return Err(manifest::not_found(cwd));
    }
    let manifest = crate::cli::init::default_manifest(&folder)?;
    if !init {
        eprintln!("no {FILE_NAME} here or above; this is the one jenv would write in {}:", folder.display());
        eprint!("{}", manifest.to_toml().lines().map(|line| format!("  {line}\n")).collect::<String>());
        if !prompt::confirm("write it and start the notebook?")? {
            return Err(Hinted::new("nothing was written", "`jenv init` writes a manifest with your choices").into());
        }
    }
    crate::cli::init::write(&folder, &manifest)?;
    eprintln!("wrote {} (image {})", folder.join(FILE_NAME).display(), manifest.image);
    let text = manifest.to_toml();
    Ok(Project { folder, manifest, text })
}

/// Streams the notebook's logs like `docker run -it`; Ctrl-C stops the notebook, following the
/// same rule as `jenv down` for changes that no snapshot holds.
async fn attach(ctx: &Context, watch: Option<Options>) -> Result<ExitCode> {
    let mut interrupts = crate::ui::signals::Interrupts::listen();
    eprintln!("streaming logs; press Ctrl-C to stop the notebook");
    let mut logs = ctx.engine.logs(&ctx.project.container_name(), true, Some(0));
    let mut watcher = Box::pin(async {
        match watch {
            Some(options) => crate::watch::run(ctx, options).await,
            None => std::future::pending().await,
        }
    });
    let stopped_by_user = loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(chunk) => chunk?.write_to_terminal()?,
                None => break false,
            },
            result = &mut watcher => match result? {},
            _ = interrupts.recv() => break true,
        }
    };
    // The watcher may hold the folder's lock (a snapshot of its own): let go of it first.
    drop(watcher);
    if stopped_by_user {
        eprintln!("stopping the notebook");
        down::stop_safely(ctx, Leave::AskIfChanged).await
    } else {
        // Its filesystem may hold installs no snapshot has: keep the container.
        eprintln!("the notebook stopped by itself; `jenv up` starts it again, `jenv down` removes it");
        Ok(ExitCode::FAILURE)
    }
}
