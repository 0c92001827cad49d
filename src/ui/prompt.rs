//! Asking the person at the terminal, for [`crate::ui::Console`]. Every question goes through
//! [`ask`]: the prompt on stderr, one line of answer from the one reader of stdin.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::sync::Mutex;

/// Whether someone can answer: stdin and stderr (where questions go) are both terminals.
pub(super) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Writes `prompt` to stderr and reads one line of answer; `None` at the end of input. The
/// wait is async, so what runs beside it (a log stream, Ctrl-C) goes on, and one reader serves
/// every question of a run, so no typed-ahead line is lost between two of them.
async fn ask(prompt: &str) -> Result<Option<String>> {
    static INPUT: OnceLock<Mutex<Lines<BufReader<Stdin>>>> = OnceLock::new();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let input = INPUT.get_or_init(|| Mutex::new(BufReader::new(tokio::io::stdin()).lines()));
    Ok(input.lock().await.next_line().await?)
}

/// Asks `question [y/N]`; only `y`/`yes` is a yes (end of input is a no).
pub(super) async fn confirm(question: &str) -> Result<bool> {
    let answer = ask(&format!("{question} [y/N] ")).await?.unwrap_or_default();
    Ok(is_yes(&answer))
}

/// Asks `prompt` until the answer is one of a choice's words (in any case); `None` at the end
/// of input.
pub(super) async fn choose<T: Copy>(prompt: &str, choices: &[(&[&str], T)]) -> Result<Option<T>> {
    loop {
        let Some(answer) = ask(prompt).await? else { return Ok(None) };
        if let Some(choice) = chosen(&answer, choices) {
            return Ok(Some(choice));
        }
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn chosen<T: Copy>(answer: &str, choices: &[(&[&str], T)]) -> Option<T> {
    let answer = answer.trim().to_ascii_lowercase();
    choices.iter().find(|(words, _)| words.contains(&answer.as_str())).map(|(_, choice)| *choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_is_a_yes() {
        for yes in ["y", "Y", "yes", " YES \n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "yess", "y e s"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn a_choice_is_any_of_its_words_in_any_case() {
        let choices: &[(&[&str], char)] = &[(&["s", "snapshot"], 's'), (&["c", "cancel", ""], 'c')];
        assert_eq!(chosen("Snapshot\n", choices), Some('s'));
        assert_eq!(chosen("  \n", choices), Some('c'));
        assert_eq!(chosen("x", choices), None);
    }
}
