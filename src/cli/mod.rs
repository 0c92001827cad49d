//! The command line: `Cli` and `Command` (clap) and `run`, which hands each command to the file
//! named after it. Each such file holds the command's arguments beside its handler (`jenv up`:
//! up.rs). Three files are no command: json.rs is the `--json` flag several commands take,
//! settle.rs a first step many share, stopping.rs the end of a stop (down, up).
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod export;
pub mod history;
pub mod init;
pub mod json;
pub mod logs;
pub mod man;
pub mod open;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rebuild;
pub mod rollback;
pub mod settle;
pub mod snapshot;
pub mod status;
pub mod stopping;
pub mod top;
pub mod trust;
pub mod up;
pub mod url;
pub mod watch;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::env::CompleteEnv;

use crate::cli::json::JsonArgs;
use crate::ui::Console;

#[derive(Debug, Parser)]
#[command(name = "jenv", version, about = "Each work folder its own Jupyter-in-Docker notebook")]
pub struct Cli {
    /// Print no progress (spinners, bars, progress lines); results and errors still print
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run, so the size of `init`'s many flags costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a .jupyter-env manifest in the current folder
    Init(init::InitArgs),
    /// Start this folder's notebook and print its URL
    Up(up::UpArgs),
    /// Stop this folder's notebook and remove its container
    Down(down::DownArgs),
    /// Show this folder's environment, or every jenv environment with --all
    Status(status::StatusArgs),
    /// Every notebook on the engine: memory, CPU, kernels, last activity, unsaved changes, OOM kills
    Top(top::TopArgs),
    /// Print the notebook URL (with token) on one line
    Url,
    /// Open the notebook in the browser
    Open,
    /// Show the notebook's logs
    Logs(logs::LogsArgs),
    /// Run a command in the notebook container as the notebook user
    Exec(exec::ExecArgs),
    /// Open an interactive shell in the notebook container
    Shell,
    /// Commit the running notebook into this folder's own image
    Snapshot(snapshot::SnapshotArgs),
    /// List packages added, removed or changed since the notebook started from its image
    Diff(JsonArgs),
    /// List this folder's snapshots
    History(JsonArgs),
    /// Make an earlier snapshot the one the next `jenv up` starts from
    Rollback(rollback::RollbackArgs),
    /// Remove old snapshots that no container uses
    Prune(prune::PruneArgs),
    /// Recreate this folder's image from its base image and .jupyter-env.lock (or its [build] files)
    Rebuild,
    /// Write the latest snapshot as files that rebuild it: Dockerfile, requirements, binder/, devcontainer
    Export(export::ExportArgs),
    /// Watch requirement files and in-notebook installs; offer to install and snapshot
    Watch(watch::WatchArgs),
    /// Send this folder's current snapshot to the registry its repository names
    Push(push::PushArgs),
    /// Fetch the snapshot the folder's .jupyter-env.lock names from its registry
    Pull(JsonArgs),
    /// Trust this folder's .jupyter-env, so commands may run what it names
    Trust(trust::TrustArgs),
    /// Forget that you trusted this folder's .jupyter-env
    Untrust,
    /// Print the shell script that completes jenv's commands, flags and snapshot tags
    Completions(completions::CompletionsArgs),
    /// Print jenv's man page (or write one page per command with --dir)
    Man(man::ManArgs),
    /// Check the engine, its socket and storage, the image, ports, state and leftovers; say how to fix each
    Doctor(JsonArgs),
}

/// Answers a shell completion request and exits, when this run is one (`COMPLETE` is set).
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command).var(completions::VAR).complete();
}

/// Runs the command; its exit code, or the error to show.
pub fn run(cli: Cli, console: Console) -> Result<ExitCode> {
    match cli.command {
        // `init` needs no engine, so it needs no runtime either.
        Command::Init(args) => init::run(args, console),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args, Cli::command(), console),
        Command::Trust(args) => trust::trust(args, console),
        Command::Untrust => trust::untrust(console),
        command => runtime().and_then(|rt| rt.block_on(dispatch(command, console))),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

async fn dispatch(command: Command, console: Console) -> Result<ExitCode> {
    match command {
        Command::Init(_) | Command::Completions(_) | Command::Man(_) | Command::Trust(_) | Command::Untrust => {
            unreachable!("handled without a runtime")
        }
        Command::Up(args) => up::run(args, console).await,
        Command::Down(args) => down::run(args, console).await,
        Command::Status(args) => status::run(args, console).await,
        Command::Top(args) => top::run(args, console).await,
        Command::Url => url::run(console).await,
        Command::Open => open::run(console).await,
        Command::Logs(args) => logs::run(args, console).await,
        Command::Exec(args) => exec::run(args, console).await,
        Command::Shell => exec::shell(console).await,
        Command::Snapshot(args) => snapshot::run(args, console).await,
        Command::Diff(args) => diff::run(args, console).await,
        Command::History(args) => history::run(args, console).await,
        Command::Rollback(args) => rollback::run(args, console).await,
        Command::Prune(args) => prune::run(args, console).await,
        Command::Rebuild => rebuild::run(console).await,
        Command::Export(args) => export::run(args, console).await,
        Command::Watch(args) => watch::run(args, console).await,
        Command::Doctor(args) => doctor::run(args, console).await,
        Command::Push(args) => push::run(args, console).await,
        Command::Pull(args) => pull::run(args, console).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
