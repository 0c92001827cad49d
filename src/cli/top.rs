//! `jenv top`: every notebook on the engine with what it uses and does, refreshed on a terminal.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::clock;
use crate::engine::Engine;
use crate::notebook::leases::known_tokens;
use crate::notebook::sample::{NotebookSample, Sampler};
use crate::state::StateDir;
use crate::ui::Console;
use crate::ui::format::{ago, human_bytes, table};
use crate::ui::signals::Interrupts;

/// How often the screen is redrawn.
const REFRESH: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Print one sample as JSON and exit
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: TopArgs, console: Console) -> Result<ExitCode> {
    let engine = Engine::connect(&console).await?;
    let tokens = known_tokens(&StateDir::locate()?);
    let mut sampler = Sampler::default();
    let screen = if args.json { None } else { console.screen() };
    let Some(mut screen) = screen else {
        // No terminal to redraw, or JSON: one sample.
        let samples = sampler.sample(&engine, &tokens).await?;
        if args.json {
            console.json(&samples)?;
        } else {
            console.result_lines(&render(&samples, clock::now_secs()));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut interrupts = Interrupts::listen();
    loop {
        let samples = sampler.sample(&engine, &tokens).await?;
        let now = clock::now_secs();
        screen.show(&format!("jenv top: {}  (q quits)\n\n{}", clock::display(now), render(&samples, now)));
        let next = tokio::time::sleep(REFRESH);
        tokio::pin!(next);
        loop {
            tokio::select! {
                key = screen.key() => match key {
                    Some(b'q' | b'Q') | None => return Ok(ExitCode::SUCCESS),
                    Some(_) => continue,
                },
                _ = interrupts.recv() => return Ok(ExitCode::SUCCESS),
                _ = &mut next => break,
            }
        }
    }
}

/// The table: one row per notebook.
fn render(samples: &[NotebookSample], now: u64) -> String {
    if samples.is_empty() {
        return "no jenv notebooks on this engine\n".to_string();
    }
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            let memory = s.memory.map_or_else(dash, |m| match m.limit_bytes {
                Some(limit) => format!("{} / {}", human_bytes(m.used_bytes as i64), human_bytes(limit as i64)),
                None => human_bytes(m.used_bytes as i64),
            });
            let last = s.last_activity.as_deref().and_then(clock::parse_rfc3339);
            vec![
                s.status.name.clone(),
                s.status.state.clone(),
                memory,
                s.cpu_percent.map_or_else(dash, |p| format!("{p:.1}")),
                s.kernels.map_or_else(dash, |k| format!("{} / {}", k.busy, k.idle)),
                last.map_or_else(dash, |secs| ago(now.saturating_sub(secs))),
                s.changes.map_or_else(dash, |c| c.to_string()),
                s.oom_kills.map_or_else(dash, |k| k.to_string()),
                s.status.folder.clone(),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "MEM", "CPU %", "KERNELS", "LAST ACTIVITY", "CHANGES", "OOM", "FOLDER"];
    table(&header, &rows)
}
