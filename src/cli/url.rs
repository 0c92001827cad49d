use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Context;
use crate::ui::opener;

pub async fn url() -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let running = ctx.running(ctx.running_container().await?).await?;
    println!("{}", running.url);
    Ok(ExitCode::SUCCESS)
}

/// Opens the URL with `$BROWSER` or the platform's opener; prints it when none works.
pub async fn open() -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let running = ctx.running(ctx.running_container().await?).await?;
    match opener::open(&running.url) {
        Ok(opened_with) => eprintln!("opened the notebook with `{opened_with}`"),
        Err(failures) => {
            eprintln!("no browser opened it: {}. Open this URL yourself:", failures.join("; "));
            println!("{}", running.url);
        }
    }
    Ok(ExitCode::SUCCESS)
}
