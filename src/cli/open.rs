//! `jenv open`: the notebook in the browser.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Context;
use crate::ui::opener;

/// Opens the URL with `$BROWSER` or the platform's opener; prints it when none works.
pub async fn run() -> Result<ExitCode> {
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
