use std::process::ExitCode;

use anyhow::Result;
use futures_util::StreamExt;

use crate::cli::UpArgs;
use crate::cmd::down::{self, Leave};
use crate::environment::Context;
use crate::watch::Options;

pub async fn run(args: UpArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    if let Some(container) = ctx.container().await? {
        let differs = ctx.drift(&container)?;
        if !differs.is_empty() {
            // Recreated only through the guard `down` uses: installs no snapshot holds are never lost silently.
            eprintln!("the notebook no longer matches .jupyter-env ({}); recreating it", differs.join(", "));
            if down::stop_safely(&ctx, Leave::AskIfChanged).await? != ExitCode::SUCCESS {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let running = ctx.up().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&crate::cmd::status::Entry::from_running(&running))?);
    } else {
        println!("{}", running.url);
    }
    if args.attach || args.watch {
        let watch = args.watch.then_some(Options { yes: args.yes || ctx.project.manifest.watch.yes, json: false });
        return attach(&ctx, watch).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams the notebook's logs like `docker run -it`; Ctrl-C stops the notebook, following the
/// same rule as `jenv down` for changes that no snapshot holds.
async fn attach(ctx: &Context, watch: Option<Options>) -> Result<ExitCode> {
    eprintln!("streaming logs; press Ctrl-C to stop the notebook");
    let mut logs = ctx.engine.logs(&ctx.project.container_name(), true, Some(0));
    let watcher = async {
        match watch {
            Some(options) => crate::watch::run(ctx, options).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(watcher);
    let stopped_by_user = loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(chunk) => chunk?.write_to_terminal()?,
                None => break false,
            },
            result = &mut watcher => match result? {},
            _ = crate::signals::interrupted() => break true,
        }
    };
    if stopped_by_user {
        eprintln!("stopping the notebook");
        down::stop_safely(ctx, Leave::AskIfChanged).await
    } else {
        // Its filesystem may hold installs no snapshot has: keep the container.
        eprintln!("the notebook stopped by itself; `jenv up` starts it again, `jenv down` removes it");
        Ok(ExitCode::FAILURE)
    }
}
