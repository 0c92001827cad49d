//! The end of a stop as `jenv down` does it, shared by down and up (a recreated notebook,
//! Ctrl-C on `--attach`): the person at a terminal decides on changes no snapshot holds, then
//! what happened is printed.

use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Notebook;
use crate::snapshot::stop::{Leave, Stopping};
use crate::ui::Console;

/// Asks what `stopping` needs decided (on a terminal; without one the stop is refused), stops,
/// and says what was done. A cancel keeps the notebook running and fails.
pub async fn finish(nb: &Notebook, mut stopping: Stopping<'_>) -> Result<ExitCode> {
    let console = nb.console;
    if let Some(question) = stopping.question()
        && console.interactive()
    {
        console.note(question);
        match ask(console).await? {
            Some(leave) => stopping.decide(leave),
            None => {
                console.note("cancelled; the notebook keeps running");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let stopped = stopping.finish().await?;
    if let Some(snapshot) = &stopped.snapshot {
        console.result(format_args!("{}:{}", nb.project.manifest.repository, snapshot.tag));
        console.note(snapshot.summary());
        console.note("the next `jenv up` starts from it");
    }
    if stopped.existed {
        console.note(format_args!("stopped {}", nb.project.container_name()));
    } else {
        console.note(format_args!("{} was not running", nb.project.container_name()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Snapshot first, discard, or cancel (`None`, also at the end of input).
async fn ask(console: Console) -> Result<Option<Leave>> {
    let choices: &[(&[&str], Option<Leave>)] = &[
        (&["s", "snapshot"], Some(Leave::Snapshot)),
        (&["d", "discard"], Some(Leave::Discard)),
        (&["c", "cancel", ""], None),
    ];
    Ok(console.choose("[s]napshot first, [d]iscard them, or [c]ancel? ", choices).await?.flatten())
}
