//! jenv: each work folder its own Jupyter-in-Docker notebook.

mod baseline;
mod cli;
mod clock;
mod cmd;
mod complete;
mod config;
mod dial;
mod dockerrun;
mod doctor;
mod dotenv;
mod drift;
mod endpoint;
mod engine;
mod environment;
mod error;
mod forward;
mod history;
mod installers;
mod interrupted;
mod jupyter;
mod manifest;
mod opener;
mod oplock;
mod orphans;
mod packages;
mod ports;
mod progress;
mod prompt;
mod rebuild;
mod record;
mod reference;
mod registry;
mod requirements;
mod runas;
mod runenv;
mod settings;
mod share;
mod signals;
mod snapshot;
mod state;
mod trust;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    complete::answer_if_asked();
    let cli = Cli::parse();
    progress::set_quiet(cli.quiet);
    let result = match cli.command {
        // `init` needs no engine, so it needs no runtime either.
        Command::Init(args) => cmd::init::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man(args) => cmd::man::run(args),
        Command::Trust(args) => cmd::trust::trust(args),
        Command::Untrust => cmd::trust::untrust(),
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
        Command::Up(args) => cmd::up::run(args).await,
        Command::Down(args) => cmd::down::run(args).await,
        Command::Status(args) => cmd::status::run(args).await,
        Command::Url => cmd::url::url().await,
        Command::Open => cmd::url::open().await,
        Command::Logs(args) => cmd::logs::run(args).await,
        Command::Exec(args) => cmd::exec::run(args).await,
        Command::Shell => cmd::exec::shell().await,
        Command::Snapshot(args) => cmd::snapshot::run(args).await,
        Command::Diff(args) => cmd::snapshot::diff(args).await,
        Command::History(args) => cmd::history::history(args).await,
        Command::Rollback(args) => cmd::history::rollback(args).await,
        Command::Prune(args) if args.orphans => cmd::orphans::prune().await,
        Command::Prune(args) => cmd::history::prune(args).await,
        Command::Rebuild => cmd::snapshot::rebuild().await,
        Command::Watch(args) => cmd::watch::run(args).await,
        Command::Doctor(args) => cmd::doctor::run(args).await,
        Command::Push(args) => cmd::share::push(args).await,
        Command::Pull(args) => cmd::share::pull(args).await,
    }
}
