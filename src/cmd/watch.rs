use std::process::ExitCode;

use anyhow::Result;

use crate::cli::WatchArgs;
use crate::environment::Context;
use crate::watch::{self, Options};

pub async fn run(args: WatchArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let options = Options { yes: args.yes || ctx.project.manifest.watch.yes, json: args.json };
    tokio::select! {
        result = watch::run(&ctx, options) => match result? {},
        _ = crate::signals::interrupted() => eprintln!("stopped watching"),
    }
    Ok(ExitCode::SUCCESS)
}
