//! `jenv logs`: the notebook's output, as the engine keeps it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use futures_util::StreamExt;

use crate::error::hinted;
use crate::notebook::Notebook;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep following new output
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

pub async fn run(args: LogsArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    if nb.find().await?.is_none() {
        hinted!("{} has no notebook container", nb.project.folder.display(); "start it with `jenv up`");
    }
    let mut logs = nb.engine.logs(&nb.project.container_name(), args.follow, args.tail);
    loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(chunk) => {
                    let chunk = chunk?;
                    console.container_output(chunk.stream(), chunk.bytes())?;
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
