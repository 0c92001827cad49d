//! jenv: each work folder its own Jupyter-in-Docker notebook.

mod cli;
mod doctor;
mod engine;
mod error;
mod manifest;
mod notebook;
mod packages;
mod snapshot;
mod state;
mod ui;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    cli::complete::answer_if_asked();
    let cli = Cli::parse();
    ui::progress::set_quiet(cli.quiet);
    let result = match cli.command {
        // `init` needs no engine, so it needs no runtime either.
        Command::Init(args) => cli::init::run(args),
        Command::Completions(args) => cli::completions::run(args),
        Command::Man(args) => cli::man::run(args),
        Command::Trust(args) => cli::trust::trust(args),
        Command::Untrust => cli::trust::untrust(),
        command => runtime().and_then(|rt| rt.block_on(dispatch(command))),
    };
    result.unwrap_or_else(|err| {
        eprintln!("{}", error::render(&err));
        ExitCode::FAILURE
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(_) | Command::Completions(_) | Command::Man(_) | Command::Trust(_) | Command::Untrust => {
            unreachable!("handled without a runtime")
        }
        Command::Up(args) => cli::up::run(args).await,
        Command::Down(args) => cli::down::run(args).await,
        Command::Status(args) => cli::status::run(args).await,
        Command::Url => cli::url::url().await,
        Command::Open => cli::url::open().await,
        Command::Logs(args) => cli::logs::run(args).await,
        Command::Exec(args) => cli::exec::run(args).await,
        Command::Shell => cli::exec::shell().await,
        Command::Snapshot(args) => cli::snapshot::run(args).await,
        Command::Diff(args) => cli::snapshot::diff(args).await,
        Command::History(args) => cli::history::history(args).await,
        Command::Rollback(args) => cli::history::rollback(args).await,
        Command::Prune(args) if args.orphans => cli::orphans::prune().await,
        Command::Prune(args) => cli::history::prune(args).await,
        Command::Rebuild => cli::snapshot::rebuild().await,
        Command::Export(args) => cli::export::run(args).await,
        Command::Watch(args) => cli::watch::run(args).await,
        Command::Doctor(args) => cli::doctor::run(args).await,
        Command::Push(args) => cli::share::push(args).await,
        Command::Pull(args) => cli::share::pull(args).await,
    }
}
