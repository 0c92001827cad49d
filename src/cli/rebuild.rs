//! `jenv rebuild`: this folder's image again, from its base image and .jupyter-env.lock (or its
//! `[build]` files).

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::snapshot::rebuild;
use crate::ui::Console;

pub async fn run(console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("rebuild", console).await?;
    crate::cli::settle::settle(&nb).await;
    let record = rebuild::rebuild(&nb).await?;
    console.result(format_args!("{}:{}", nb.project.manifest.repository, record.snapshot));
    console.note(format_args!(
        "rebuilt with {} recorded pip and {} conda packages; the next `jenv up` starts from it",
        record.pip.len(),
        record.conda.len()
    ));
    Ok(ExitCode::SUCCESS)
}
