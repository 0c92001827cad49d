//! `jenv url`: the notebook's URL, with its token, on one line.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;

pub async fn run() -> Result<ExitCode> {
    let nb = Notebook::open().await?;
    let url = nb.url_of(&nb.find_running().await?).await?;
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
