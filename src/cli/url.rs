//! `jenv url`: the notebook's URL, with its token, on one line.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::ui::Console;

pub async fn run(console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    let url = nb.url_of(&nb.find_running().await?).await?;
    console.result(url);
    Ok(ExitCode::SUCCESS)
}
