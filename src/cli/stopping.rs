//! The end of a stop as `jenv down` does it, shared by down and up (a recreated notebook,
//! Ctrl-C on `--attach`): the person at a terminal decides on changes no snapshot holds, then
//! what happened is printed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;

use crate::notebook::Context;
use crate::snapshot::stop::{Leave, Stopping};

/// Asks what `stopping` needs decided (on a terminal; without one the stop is refused), stops,
/// and says what was done. A cancel keeps the notebook running and fails.
pub async fn finish(ctx: &Context, mut stopping: Stopping<'_>) -> Result<ExitCode> {
    if let Some(question) = stopping.question()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        eprintln!("{question}");
        match ask()? {
            Some(leave) => stopping.decide(leave),
            None => {
                eprintln!("cancelled; the notebook keeps running");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let stopped = stopping.finish().await?;
    if let Some(snapshot) = &stopped.snapshot {
        println!("{}:{}", ctx.project.manifest.repository, snapshot.tag);
        eprintln!("{}", snapshot.summary());
        eprintln!("the next `jenv up` starts from it");
    }
    if stopped.existed {
        eprintln!("stopped {}", ctx.project.container_name());
    } else {
        eprintln!("{} was not running", ctx.project.container_name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Snapshot first, discard, or cancel (`None`).
fn ask() -> Result<Option<Leave>> {
    let mut stdin = std::io::stdin().lock();
    loop {
        eprint!("[s]napshot first, [d]iscard them, or [c]ancel? ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        if stdin.read_line(&mut answer)? == 0 {
            return Ok(None);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "s" | "snapshot" => return Ok(Some(Leave::Snapshot)),
            "d" | "discard" => return Ok(Some(Leave::Discard)),
            "c" | "cancel" | "" => return Ok(None),
            _ => continue,
        }
    }
}
