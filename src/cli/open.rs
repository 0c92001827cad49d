//! `jenv open`: the notebook in the browser.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::ui::Console;
use crate::ui::opener;

/// Opens the URL with `$BROWSER` or the platform's opener; prints it when none works.
pub async fn run(console: Console) -> Result<ExitCode> {
    let nb = Notebook::open(console).await?;
    let url = nb.url_of(&nb.find_running().await?).await?;
    match opener::open(&url) {
        Ok(opened_with) => console.note(format_args!("opened the notebook with `{opened_with}`")),
        Err(failures) => {
            console.note(format_args!("no browser opened it: {}. Open this URL yourself:", failures.join("; ")));
            console.result(url);
        }
    }
    Ok(ExitCode::SUCCESS)
}
