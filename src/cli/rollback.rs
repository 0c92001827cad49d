//! `jenv rollback`, and the completion of its argument: this folder's snapshot tags.

use std::ffi::OsStr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use clap_complete::engine::CompletionCandidate;

use crate::notebook::Notebook;
use crate::snapshot::store::SnapshotStore;
use crate::ui::Console;

/// A Tab must not hang on an engine that does not answer.
const ENGINE_DEADLINE: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The snapshot tag (default: the one before the current snapshot)
    #[arg(add = clap_complete::ArgValueCompleter::new(snapshot_tags))]
    pub tag: Option<String>,
}

pub async fn run(args: RollbackArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("rollback", console).await?;
    crate::cli::settle::settle(&nb).await;
    let target = SnapshotStore::of(&nb).rollback(args.tag.as_deref()).await?;
    console.result(format_args!("{}:{}", nb.project.manifest.repository, target.tag));
    let running = nb.find().await?.is_some_and(|c| c.is_running());
    console.note(format_args!(
        "the next `jenv up` starts from {}{}",
        target.tag,
        if running { "; the running notebook is unchanged until `jenv down` and `jenv up`" } else { "" }
    ));
    Ok(ExitCode::SUCCESS)
}

/// This folder's snapshot tags, newest first, with their messages as help. Nothing (never an
/// error) when there is no manifest or no engine.
fn snapshot_tags(current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return Vec::new() };
    let entries = runtime.block_on(async {
        let history = async { SnapshotStore::of(&Notebook::open(Console::new(true)).await?).list().await };
        tokio::time::timeout(ENGINE_DEADLINE, history).await.ok().and_then(Result::ok).unwrap_or_default()
    });
    entries
        .into_iter()
        .filter(|e| e.tag.starts_with(prefix.as_ref()))
        .map(|e| {
            let help = match (e.current, e.message.is_empty()) {
                (true, true) => "current".to_string(),
                (true, false) => format!("current: {}", e.message),
                (false, _) => e.message.clone(),
            };
            CompletionCandidate::new(&e.tag).help((!help.is_empty()).then(|| help.into()))
        })
        .collect()
}
