use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::engine::Engine;
use crate::engine::types::Container;
use crate::manifest::{self, Project};
use crate::notebook::{Context, Running, known_tokens, url_of};
use crate::state::StateDir;

/// One environment as `status` (and `up --json`) reports it; the JSON shape is documented.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub name: String,
    pub folder: String,
    pub container: String,
    /// The engine's state (`running`, `exited`, ...) or `absent` when there is no container.
    pub state: String,
    pub image: String,
    pub ports: BTreeMap<String, PortEntry>,
    pub url: Option<String>,
    /// Package changes since the notebook started from its image (this folder's status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<usize>,
    /// The jenv command working on this environment right now, e.g. `jenv snapshot (pid 42)`
    /// (this folder's status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
    /// Settings in which the container differs from .jupyter-env now, by name (this folder's
    /// status only; values are never shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// The engine it is on and why jenv chose it, e.g. `unix:///var/run/docker.sock (default socket)`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub engine: String,
}

#[derive(Debug, Serialize)]
pub struct PortEntry {
    pub container: u16,
    pub host: u16,
}

impl Entry {
    fn from_container(container: &Container, url: Option<String>) -> Entry {
        Entry {
            name: container.name.clone(),
            folder: container.folder.clone(),
            container: manifest::container_name(&container.name),
            state: container.state.as_str().to_string(),
            image: container.image.clone(),
            ports: container
                .ports
                .iter()
                .map(|(n, port)| (n.clone(), PortEntry { container: port.container, host: port.host }))
                .collect(),
            url,
            changes: None,
            busy: None,
            drift: Vec::new(),
            engine: String::new(),
        }
    }

    pub fn from_running(running: &Running) -> Entry {
        Entry::from_container(&running.container, Some(running.url.clone()))
    }

    fn absent(project: &Project) -> Entry {
        let manifest = &project.manifest;
        Entry {
            name: manifest.name.clone(),
            folder: project.folder.display().to_string(),
            container: project.container_name(),
            state: "absent".into(),
            image: manifest.image.clone(),
            ports: manifest
                .container_ports()
                .into_iter()
                .map(|(n, c)| (n, PortEntry { container: c, host: 0 }))
                .collect(),
            url: None,
            changes: None,
            busy: None,
            drift: Vec::new(),
            engine: String::new(),
        }
    }
}

pub async fn run(args: StatusArgs) -> Result<ExitCode> {
    let entries = if args.all { all().await? } else { vec![this_folder().await?] };
    if args.json {
        let json =
            if args.all { serde_json::to_string_pretty(&entries)? } else { serde_json::to_string_pretty(&entries[0])? };
        println!("{json}");
    } else if args.all {
        print_table(&entries);
    } else {
        print_detail(&entries[0]);
    }
    Ok(ExitCode::SUCCESS)
}

async fn this_folder() -> Result<Entry> {
    let ctx = Context::load().await?;
    crate::cli::settle::settle(&ctx).await;
    let tokens = known_tokens(&ctx.state);
    let busy = ctx.busy();
    let mut entry = match ctx.container().await? {
        Some(container) => {
            // Packages can only be listed in a running notebook, and not while a snapshot commits.
            let changes = if container.is_running() && busy.is_none() {
                Some(ctx.pending_changes(&container).await?.len())
            } else {
                None
            };
            let drift = ctx.drift(&container).unwrap_or_else(|err| vec![format!("unknown ({err})")]);
            let mut entry = entry(&tokens, &ctx.engine, container).await?;
            entry.changes = changes;
            entry.drift = drift;
            entry
        }
        None => Entry::absent(&ctx.project),
    };
    entry.busy = busy;
    entry.engine = describe_engine(&ctx.engine);
    Ok(entry)
}

/// The engine's address, why jenv chose it, and Podman when it is.
fn describe_engine(engine: &Engine) -> String {
    let endpoint = engine.endpoint();
    let podman = if engine.is_podman() { ", Podman" } else { "" };
    format!("{} ({}{podman})", endpoint.host, endpoint.source)
}

/// Every jenv container on the engine; needs no manifest, so it works from any folder.
async fn all() -> Result<Vec<Entry>> {
    let engine = Engine::connect().await?;
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

async fn entry(tokens: &BTreeMap<String, String>, engine: &Engine, container: Container) -> Result<Entry> {
    // A paused notebook serves again, at the same URL, the moment it is resumed.
    let alive = container.is_running() || container.is_paused();
    let url = if alive { Some(url_of(tokens, engine, &container).await?) } else { None };
    Ok(Entry::from_container(&container, url))
}

fn print_detail(entry: &Entry) {
    println!("{}  {}", entry.name, state_words(entry));
    println!("  folder:    {}", entry.folder);
    println!("  container: {}", entry.container);
    println!("  image:     {}", entry.image);
    println!("  engine:    {}", entry.engine);
    for (name, port) in &entry.ports {
        match port.host {
            0 => println!("  port:      {name} {} (not published)", port.container),
            host => println!("  port:      {name} {} -> 127.0.0.1:{host}", port.container),
        }
    }
    if !entry.drift.is_empty() {
        println!(
            "  differs:   the container no longer matches .jupyter-env: {} (`jenv up` recreates it)",
            entry.drift.join(", ")
        );
    }
    if let Some(changes) = entry.changes {
        println!(
            "  changes:   {changes} package change{} not in a snapshot (`jenv diff`)",
            if changes == 1 { "" } else { "s" }
        );
    }
    match &entry.url {
        Some(url) => println!("  url:       {url}"),
        None => println!("  (start it with `jenv up`)"),
    }
}

/// The state as a person needs it: what is happening, not only the engine's word for it.
fn state_words(entry: &Entry) -> String {
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

fn print_table(entries: &[Entry]) {
    let Some(first) = entries.first() else {
        println!("no jenv environments on this engine");
        return;
    };
    println!("engine: {}", first.engine);
    let url = |e: &Entry| e.url.clone().unwrap_or_else(|| "-".to_string());
    // Columns as wide as their widest cell, so the header lines up with every row.
    let name_width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0).max("NAME".len());
    let state_width = entries.iter().map(|e| e.state.len()).max().unwrap_or(0).max("STATE".len());
    let url_width = entries.iter().map(|e| url(e).len()).max().unwrap_or(0).max("URL".len());
    println!("{:name_width$}  {:state_width$}  {:url_width$}  FOLDER", "NAME", "STATE", "URL");
    for e in entries {
        println!("{:name_width$}  {:state_width$}  {:url_width$}  {}", e.name, e.state, url(e), e.folder);
    }
}
