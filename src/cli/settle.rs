//! What a killed `jenv snapshot` left, finished before a command reads the folder's snapshots.

use crate::notebook::Notebook;
use crate::snapshot::interrupted::{self, Settled};

/// Finishes what a killed `jenv snapshot` of this folder left, saying what it did. Run first by
/// every command that reads or changes the folder's snapshots or its changes; a failure here is
/// a warning, never the command's own failure.
pub async fn settle(nb: &Notebook) {
    let console = nb.console;
    match interrupted::settle(nb).await {
        Ok(settled) => {
            for outcome in settled {
                console.note(describe(&outcome));
            }
        }
        Err(err) => console.warn(format_args!("cannot finish an interrupted snapshot: {err:#}")),
    }
}

fn describe(outcome: &Settled) -> String {
    match outcome {
        Settled::Finished { tag, current: true } => format!(
            "note: finished snapshot {tag}, which an interrupted `jenv snapshot` had committed; the next `jenv up` starts from it"
        ),
        Settled::Finished { tag, current: false } => format!(
            "note: recorded snapshot {tag}, which an interrupted `jenv snapshot` had committed; another snapshot became current meanwhile and stays so"
        ),
        Settled::Interrupted { tag } => format!(
            "warning: snapshot {tag} was interrupted while the notebook's packages changed, so it may hold a half-done install; \
             `jenv history` shows it as interrupted until `jenv prune` removes it (`jenv snapshot` takes a new one)"
        ),
    }
}
