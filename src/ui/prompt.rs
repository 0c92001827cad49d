//! Asking the person at the terminal a yes/no question, once.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;

/// Whether someone can answer: stdin and stderr (where questions go) are both terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question [y/N]` on stderr; only `y`/`yes` is a yes (end of input is a no).
pub fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
