//! `jenv rebuild`: this folder's image again, from its base image and .jupyter-env.lock.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;

pub async fn run() -> Result<ExitCode> {
    let nb = Notebook::open_trusted("rebuild").await?;
    crate::cli::settle::settle(&nb).await;
    let record = nb.rebuild().await?;
    println!("{}:{}", nb.project.manifest.repository, record.snapshot);
    eprintln!(
        "rebuilt with {} recorded pip and {} conda packages; the next `jenv up` starts from it",
        record.pip.len(),
        record.conda.len()
    );
    Ok(ExitCode::SUCCESS)
}
