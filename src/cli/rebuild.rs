//! `jenv rebuild`: this folder's image again, from its base image and .jupyter-env.lock.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::snapshot::rebuild;

pub async fn run() -> Result<ExitCode> {
    let nb = Notebook::open_trusted("rebuild").await?;
    crate::cli::settle::settle(&nb).await;
    let record = rebuild::rebuild(&nb).await?;
    println!("{}:{}", nb.project.manifest.repository, record.snapshot);
    eprintln!(
        "rebuilt with {} recorded pip and {} conda packages; the next `jenv up` starts from it",
        record.pip.len(),
        record.conda.len()
    );
    Ok(ExitCode::SUCCESS)
}
