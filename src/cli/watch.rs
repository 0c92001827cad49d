//! `jenv watch`: requirement files and in-notebook installs, offered for install and snapshot.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::manifest::user_config::UserConfig;
use crate::notebook::Notebook;
use crate::ui::Console;
use crate::watch::event::Event;
use crate::watch::{self, Options};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Install and snapshot without asking (also `yes = true` under [watch] in the manifest or
    /// the user config)
    #[arg(long)]
    pub yes: bool,
    /// Ask before each install even if the manifest or the user config says `yes = true`
    #[arg(long, conflicts_with = "yes")]
    pub ask: bool,
    /// Report events as JSON lines on stdout
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: WatchArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("watch", console).await?;
    crate::cli::settle::settle(&nb).await;
    let options =
        Options::from_flags(args.yes, args.ask, args.json, &nb.project.manifest, &UserConfig::load(&console)?);
    // Events on stdout, as JSON lines with `--json`.
    let events = nb.console.with_json(args.json);
    let report = |event: &Event| events.event(event, &event.text());
    tokio::select! {
        result = watch::run(&nb, options, &report) => match result? {},
        _ = crate::ui::signals::interrupted() => console.note("stopped watching"),
    }
    Ok(ExitCode::SUCCESS)
}
