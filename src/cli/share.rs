//! `jenv push` and `jenv pull`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{JsonArgs, PushArgs};
use crate::notebook::Context;

pub async fn push(args: PushArgs) -> Result<ExitCode> {
    let ctx = Context::load().await?;
    crate::cli::settle::settle(&ctx).await;
    let pushed = ctx.push(args.all).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pushed)?);
    } else {
        for tag in &pushed.tags {
            println!("pushed {}:{tag}", pushed.repository);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn pull(args: JsonArgs) -> Result<ExitCode> {
    // It changes which image `jenv up` starts from, as rollback does.
    let ctx = Context::load_trusted("pull").await?;
    crate::cli::settle::settle(&ctx).await;
    let pulled = ctx.pull().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pulled)?);
    } else {
        println!("pulled {}; `jenv up` starts from it", pulled.image);
    }
    Ok(ExitCode::SUCCESS)
}
