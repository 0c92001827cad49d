//! `jenv pull`: the snapshot the folder's .jupyter-env.lock names, from its registry.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::notebook::{Notebook, image};
use crate::ui::Console;

pub async fn run(args: JsonArgs, console: Console) -> Result<ExitCode> {
    // It changes which image `jenv up` starts from, as rollback does.
    let nb = Notebook::open_trusted("pull", console).await?;
    crate::cli::settle::settle(&nb).await;
    let pulled = image::pull(&nb).await?;
    if args.json {
        console.json(&pulled)?;
    } else {
        console.result(format_args!("pulled {}; `jenv up` starts from it", pulled.image));
    }
    Ok(ExitCode::SUCCESS)
}
