//! `jenv pull`: the snapshot the folder's .jupyter-env.lock names, from its registry.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::json::JsonArgs;
use crate::notebook::{Notebook, image};

pub async fn run(args: JsonArgs) -> Result<ExitCode> {
    // It changes which image `jenv up` starts from, as rollback does.
    let nb = Notebook::open_trusted("pull").await?;
    crate::cli::settle::settle(&nb).await;
    let pulled = image::pull(&nb).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pulled)?);
    } else {
        println!("pulled {}; `jenv up` starts from it", pulled.image);
    }
    Ok(ExitCode::SUCCESS)
}
