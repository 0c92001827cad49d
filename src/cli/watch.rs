use std::process::ExitCode;

use anyhow::Result;

use crate::cli::WatchArgs;
use crate::manifest::user_config::UserConfig;
use crate::notebook::Context;
use crate::watch::{self, Options};

pub async fn run(args: WatchArgs) -> Result<ExitCode> {
    let ctx = Context::load_trusted("watch").await?;
    crate::cli::settle::settle(&ctx).await;
    let configured = ctx.project.manifest.watch.yes || UserConfig::load()?.watch_yes();
    let options = Options { yes: args.yes || (configured && !args.ask), json: args.json };
    tokio::select! {
        result = watch::run(&ctx, options) => match result? {},
        _ = crate::ui::signals::interrupted() => eprintln!("stopped watching"),
    }
    Ok(ExitCode::SUCCESS)
}
