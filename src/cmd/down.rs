use std::process::ExitCode;

use anyhow::Result;

use crate::cli::DownArgs;
use crate::environment::Context;

pub async fn run(_args: DownArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    if ctx.down().await? {
        eprintln!("stopped {}", ctx.project.container_name());
    } else {
        eprintln!("{} was not running", ctx.project.container_name());
    }
    Ok(ExitCode::SUCCESS)
}
