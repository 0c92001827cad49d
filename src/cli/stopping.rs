//! The end of a stop as `jenv down` does it, shared by down and up (a recreated notebook,
//! Ctrl-C on `--attach`): the person at a terminal decides on changes no snapshot holds, then
//! what happened is printed.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::snapshot::stop::{Leave, Stopping};
use crate::ui::prompt;

/// Asks what `stopping` needs decided (on a terminal; without one the stop is refused), stops,
/// and says what was done. A cancel keeps the notebook running and fails.
pub async fn finish(nb: &Notebook, mut stopping: Stopping<'_>) -> Result<ExitCode> {
    if let Some(question) = stopping.question()
        && prompt::interactive()
    {
        eprintln!("{question}");
        match ask().await? {
            Some(leave) => stopping.decide(leave),
            None => {
                eprintln!("cancelled; the notebook keeps running");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let stopped = stopping.finish().await?;
    if let Some(snapshot) = &stopped.snapshot {
        println!("{}:{}", nb.project.manifest.repository, snapshot.tag);
        eprintln!("{}", snapshot.summary());
        eprintln!("the next `jenv up` starts from it");
    }
    if stopped.existed {
        eprintln!("stopped {}", nb.project.container_name());
    } else {
        eprintln!("{} was not running", nb.project.container_name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Snapshot first, discard, or cancel (`None`, also at the end of input).
async fn ask() -> Result<Option<Leave>> {
    let choices: &[(&[&str], Option<Leave>)] = &[
        (&["s", "snapshot"], Some(Leave::Snapshot)),
        (&["d", "discard"], Some(Leave::Discard)),
        (&["c", "cancel", ""], None),
    ];
    Ok(prompt::choose("[s]napshot first, [d]iscard them, or [c]ancel? ", choices).await?.flatten())
}
