//! `jenv open`: the notebook in the browser.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::ui::opener;

/// Opens the URL with `$BROWSER` or the platform's opener; prints it when none works.
pub async fn run() -> Result<ExitCode> {
    let nb = Notebook::open().await?;
    let url = nb.url_of(&nb.find_running().await?).await?;
    match opener::open(&url) {
        Ok(opened_with) => eprintln!("opened the notebook with `{opened_with}`"),
        Err(failures) => {
            eprintln!("no browser opened it: {}. Open this URL yourself:", failures.join("; "));
            println!("{url}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
