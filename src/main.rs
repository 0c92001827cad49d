//! jenv: each work folder its own Jupyter-in-Docker notebook.

mod cli;
mod clock;
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

use crate::cli::Cli;

fn main() -> ExitCode {
    cli::answer_if_asked();
    let cli = Cli::parse();
    let console = ui::Console::new(cli.quiet);
    cli::run(cli, console).unwrap_or_else(|err| {
        eprintln!("{}", error::render(&err));
        ExitCode::FAILURE
    })
}
