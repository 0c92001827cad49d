use std::process::ExitCode;

use anyhow::Result;
use futures_util::StreamExt;

use crate::cli::LogsArgs;
use crate::error::hinted;
use crate::notebook::Context;

pub async fn run(args: LogsArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    if ctx.container().await?.is_none() {
        hinted!("{} has no notebook container", ctx.project.folder.display(); "start it with `jenv up`");
    }
    let mut logs = ctx.engine.logs(&ctx.project.container_name(), args.follow, args.tail);
    loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(chunk) => chunk?.write_to_terminal()?,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
