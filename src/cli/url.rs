//! `jenv url`: the notebook's URL, with its token, on one line.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Context;

pub async fn run() -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let running = ctx.running(ctx.running_container().await?).await?;
    println!("{}", running.url);
    Ok(ExitCode::SUCCESS)
}
