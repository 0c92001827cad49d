//! `jenv doctor`: each check with its fix, or all of them as JSON.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::json::JsonArgs;
use crate::doctor::{self, Check};
use crate::ui::Console;

/// `--json`'s shape, documented in docs/cli.md.
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [Check],
}

/// Prints each check (`--json`: `{"ok", "checks"}`); fails when any check failed.
pub async fn run(args: JsonArgs, console: Console) -> Result<ExitCode> {
    let checks = doctor::run(&console).await;
    let ok = checks.iter().all(|c| c.ok);
    if args.json {
        console.json(&Report { ok, checks: &checks })?;
    } else {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        for check in &checks {
            console.result(line(check, colour));
        }
        console.result(summary(&checks));
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn line(check: &Check, colour: bool) -> String {
    let (mark, ansi) = match (check.ok, check.is_warning()) {
        (false, _) => ("✗", "31"),
        (true, true) => ("!", "33"),
        (true, false) => ("✓", "32"),
    };
    let mark = if colour { format!("\x1b[{ansi}m{mark}\x1b[0m") } else { mark.to_string() };
    let indent = format!("\n  {:<8} ", "");
    let mut text = format!("{mark} {:<8} {}", check.name, check.detail.trim_end().replace('\n', &indent));
    if let Some(fix) = &check.fix {
        text.push_str(&format!("{indent}fix: {fix}"));
    }
    text
}

fn summary(checks: &[Check]) -> String {
    let failed = checks.iter().filter(|c| !c.ok).count();
    let warned = checks.iter().filter(|c| c.is_warning()).count();
    let warnings = match warned {
        0 => String::new(),
        1 => ", 1 warning".to_string(),
        n => format!(", {n} warnings"),
    };
    match failed {
        0 => format!("all {} checks passed{warnings}", checks.len()),
        n => format!("{n} of {} checks failed{warnings}", checks.len()),
    }
}
