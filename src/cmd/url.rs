use std::process::ExitCode;

use anyhow::Result;

use crate::environment::Context;

pub async fn url() -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let running = ctx.running(ctx.running_container().await?).await?;
    println!("{}", running.url);
    Ok(ExitCode::SUCCESS)
}

/// Opens the URL with the desktop's opener; prints it when there is none.
pub async fn open() -> Result<ExitCode> {
    let ctx = Context::load().await?;
    let running = ctx.running(ctx.running_container().await?).await?;
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    match std::process::Command::new(opener).arg(&running.url).status() {
        Ok(status) if status.success() => eprintln!("opened {}", running.url),
        _ => {
            eprintln!("could not start `{opener}`; open this URL yourself:");
            println!("{}", running.url);
        }
    }
    Ok(ExitCode::SUCCESS)
}
