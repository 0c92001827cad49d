//! `jenv status`: this folder's notebook, or with `--all` every one on the engine.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::Engine;
use crate::engine::types::Container;
use crate::notebook::Notebook;
use crate::notebook::leases::known_tokens;
use crate::notebook::status::NotebookStatus;
use crate::notebook::url::url_of;
use crate::state::StateDir;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every jenv environment on the engine, not just this folder's
    #[arg(long)]
    pub all: bool,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StatusArgs, console: Console) -> Result<ExitCode> {
    if args.all {
        let entries = all(console).await?;
        if args.json {
            console.json(&entries)?
        } else {
            print_table(&entries, console)
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (entry, memory_limit) = this_folder(console).await?;
    if args.json {
        console.json(&entry)?
    } else {
        print_detail(&entry, memory_limit.as_deref(), console)
    }
    Ok(ExitCode::SUCCESS)
}

/// This folder's status, and its `[resources] memory` limit as written.
async fn this_folder(console: Console) -> Result<(NotebookStatus, Option<String>)> {
    let nb = Notebook::open(console).await?;
    crate::cli::settle::settle(&nb).await;
    let tokens = known_tokens(&nb.state);
    let busy = nb.busy_with();
    let mut entry = match nb.find().await? {
        Some(container) => {
            // Packages can only be listed in a running notebook, and not while a snapshot commits.
            // One that stops while being listed (its idle stop) has no count: `jenv diff` says why.
            let changes = if container.is_running() && busy.is_none() {
                nb.packages().pending_changes(&container).await.ok().map(|changes| changes.len())
            } else {
                None
            };
            let drift = nb.drift(&container).unwrap_or_else(|err| vec![format!("unknown ({err})")]);
            let oom_kills = match container.is_running() {
                true => nb.engine.usage(&[&container], false).await.pop().flatten().and_then(|u| u.oom_kills),
                false => None,
            };
            let stopped = match container.is_running() || container.is_paused() {
                true => None,
                false => nb.stopped_for_idleness().await.then(|| "idle".to_string()),
            };
            let mut entry = entry(&tokens, &nb.engine, container).await?;
            entry.changes = changes;
            entry.drift = drift;
            entry.oom_kills = oom_kills;
            entry.stopped = stopped;
            entry
        }
        None => NotebookStatus::absent(&nb.project),
    };
    entry.busy = busy;
    entry.engine = describe_engine(&nb.engine);
    Ok((entry, nb.project.manifest.resources.memory.clone()))
}

/// The engine's address, why jenv chose it, and Podman when it is.
fn describe_engine(engine: &Engine) -> String {
    let endpoint = engine.endpoint();
    let podman = if engine.is_podman() { ", Podman" } else { "" };
    format!("{} ({}{podman})", endpoint.host, endpoint.source)
}

/// Every jenv container on the engine; needs no manifest, so it works from any folder.
async fn all(console: Console) -> Result<Vec<NotebookStatus>> {
    let engine = Engine::connect(&console).await?;
    let tokens = known_tokens(&StateDir::locate()?);
    let mut entries = Vec::new();
    for container in engine.list(None).await? {
        let mut entry = entry(&tokens, &engine, container).await?;
        entry.engine = describe_engine(&engine);
        entries.push(entry);
    }
    entries.sort_by(|a, b| a.folder.cmp(&b.folder));
    Ok(entries)
}

async fn entry(tokens: &BTreeMap<String, String>, engine: &Engine, container: Container) -> Result<NotebookStatus> {
    // A paused notebook serves again, at the same URL, the moment it is resumed.
    let alive = container.is_running() || container.is_paused();
    let url = if alive { Some(url_of(tokens, engine, &container).await?) } else { None };
    Ok(NotebookStatus::from_container(&container, url))
}

fn print_detail(entry: &NotebookStatus, memory_limit: Option<&str>, console: Console) {
    console.result(format_args!("{}  {}", entry.name, state_words(entry)));
    console.result(format_args!("  folder:    {}", entry.folder));
    console.result(format_args!("  container: {}", entry.container));
    console.result(format_args!("  image:     {}", entry.image));
    console.result(format_args!("  engine:    {}", entry.engine));
    for (name, port) in &entry.ports {
        match port.host {
            0 => console.result(format_args!("  port:      {name} {} (not published)", port.container)),
            host => console.result(format_args!("  port:      {name} {} -> 127.0.0.1:{host}", port.container)),
        }
    }
    if !entry.drift.is_empty() {
        console.result(format_args!(
            "  differs:   the container no longer matches .jupyter-env: {} (`jenv up` recreates it)",
            entry.drift.join(", ")
        ));
    }
    if let Some(kills) = entry.oom_kills.filter(|k| *k > 0) {
        let limit = memory_limit.map_or_else(String::new, |limit| format!(" (limit {limit})"));
        let what = if kills == 1 { "a kernel was".to_string() } else { format!("{kills} kernels were") };
        console.result(format_args!(
            "  memory:    {what} killed for lack of memory{limit}: raise [resources] memory in .jupyter-env"
        ));
    }
    if entry.stopped.as_deref() == Some("idle") {
        console.result("  stopped:   by itself, after its idle_stop time without activity; `jenv up` starts it again at the same URL");
    }
    if let Some(changes) = entry.changes {
        console.result(format_args!(
            "  changes:   {changes} package change{} not in a snapshot (`jenv diff`)",
            if changes == 1 { "" } else { "s" }
        ));
    }
    match &entry.url {
        Some(url) => console.result(format_args!("  url:       {url}")),
        None => console.result("  (start it with `jenv up`)"),
    }
}

/// The state as a person needs it: what is happening, not only the engine's word for it.
fn state_words(entry: &NotebookStatus) -> String {
    match (&entry.busy, entry.state.as_str()) {
        (Some(busy), "paused") if busy.starts_with("jenv snapshot") => {
            format!("paused: snapshot in progress ({busy}); it resumes when the commit ends")
        }
        (Some(busy), state) => format!("{state}: {busy} in progress"),
        (None, "paused") => format!(
            "paused, not by jenv (`docker pause` or a `docker commit` still running); `docker unpause {}` resumes it",
            entry.container
        ),
        (None, state) => state.to_string(),
    }
}

fn print_table(entries: &[NotebookStatus], console: Console) {
    let Some(first) = entries.first() else {
        console.result("no jenv environments on this engine");
        return;
    };
    console.result(format_args!("engine: {}", first.engine));
    let url = |e: &NotebookStatus| e.url.clone().unwrap_or_else(|| "-".to_string());
    // Columns as wide as their widest cell, so the header lines up with every row.
    let name_width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0).max("NAME".len());
    let state_width = entries.iter().map(|e| e.state.len()).max().unwrap_or(0).max("STATE".len());
    let url_width = entries.iter().map(|e| url(e).len()).max().unwrap_or(0).max("URL".len());
    console.result(format_args!("{:name_width$}  {:state_width$}  {:url_width$}  FOLDER", "NAME", "STATE", "URL"));
    for e in entries {
        console.result(format_args!(
            "{:name_width$}  {:state_width$}  {:url_width$}  {}",
            e.name,
            e.state,
            url(e),
            e.folder
        ));
    }
}
