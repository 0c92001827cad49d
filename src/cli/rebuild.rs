//! `jenv rebuild`: this folder's image again, from its base image and .jupyter-env.lock.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Context;

pub async fn run() -> Result<ExitCode> {
    let ctx = Context::load_trusted("rebuild").await?;
    crate::cli::settle::settle(&ctx).await;
    let record = ctx.rebuild().await?;
    println!("{}:{}", ctx.project.manifest.repository, record.snapshot);
    eprintln!(
        "rebuilt with {} recorded pip and {} conda packages; the next `jenv up` starts from it",
        record.pip.len(),
        record.conda.len()
    );
    Ok(ExitCode::SUCCESS)
}
