//! The terminal: jenv's one output handle ([`Console`]), progress on long waits, questions to
//! the person at it, a screen that redraws itself, their Ctrl-C, their browser, and numbers and
//! tables as they read them. Nothing below
//! the commands (`src/cli/`) prints or reads stdin except through here.

pub mod format;
pub mod opener;
pub mod progress;
mod prompt;
pub mod screen;
pub mod signals;

use std::fmt::Display;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::ui::progress::{Bytes, Spinner, Steps};

/// Which of jenv's own streams a piece of a container's output belongs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where everything jenv says goes: results on stdout (JSON for `--json`), notes, warnings and
/// progress on stderr (progress not under `--quiet`), questions to the person at the terminal.
/// main.rs makes it; every part below the commands that reports or asks is handed it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console {
    quiet: bool,
    json: bool,
}

impl Console {
    /// `quiet`: no progress (spinners, bars, progress lines); results, notes, warnings and
    /// errors still show.
    pub fn new(quiet: bool) -> Console {
        Console { quiet, json: false }
    }

    /// The same console for a command whose stdout is JSON (`--json`): events are JSON lines,
    /// and a container's stdout goes to stderr, so nothing else lands between them.
    pub fn with_json(self, json: bool) -> Console {
        Console { json, ..self }
    }

    /// A result line on stdout.
    pub fn result(&self, line: impl Display) {
        println!("{line}");
    }

    /// A result as pretty JSON on stdout.
    pub fn json(&self, value: &impl Serialize) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// One event of a long run on stdout: a JSON object on one line under `--json`, else `text`.
    pub fn event(&self, value: &impl Serialize, text: &str) {
        if self.json {
            println!("{}", serde_json::to_string(value).expect("events serialize"));
        } else {
            println!("{text}");
        }
    }

    /// Lines that end themselves (a manifest, a diff), on stdout as they are.
    pub fn result_lines(&self, text: &str) {
        print!("{text}");
    }

    /// A line for the person on stderr, shown whatever the flags.
    pub fn note(&self, text: impl Display) {
        eprintln!("{text}");
    }

    /// Lines that end themselves (a manifest, a diff), on stderr as they are.
    pub fn note_lines(&self, text: &str) {
        eprint!("{text}");
    }

    /// `warning: TEXT` on stderr, shown whatever the flags.
    pub fn warn(&self, text: impl Display) {
        eprintln!("warning: {text}");
    }

    /// A line saying what jenv is doing, on stderr; none under `--quiet`.
    pub fn progress(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A spinner for a wait of unknown length (a plain line when stderr is no terminal).
    pub fn spinner(&self, message: &str) -> Spinner {
        Spinner::new(message, self.quiet)
    }

    /// The steps of an image build: a spinner naming the current one (a line per step when
    /// stderr is no terminal).
    pub fn steps(&self, message: &str) -> Steps {
        Steps::new(message, self.quiet)
    }

    /// A bar counting bytes, for image pulls and pushes.
    pub fn bytes(&self, message: &str) -> Bytes {
        Bytes::new(message, self.quiet)
    }

    /// Passes a container's output on as it comes (`jenv exec`, `jenv logs`, installs). Under
    /// `--json` its stdout goes to stderr.
    pub fn container_output(&self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        match stream {
            Stream::Stdout if !self.json => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            _ => std::io::stderr().lock().write_all(bytes),
        }
    }

    /// A screen that redraws itself (`jenv top`), when stdout and stdin are terminals.
    pub fn screen(&self) -> Option<screen::Screen> {
        screen::possible().then(screen::Screen::enter)
    }

    /// Whether someone can answer: stdin and stderr (where questions go) are both terminals.
    pub fn interactive(&self) -> bool {
        prompt::interactive()
    }

    /// Asks `question [y/N]`; only `y`/`yes` is a yes (end of input is a no).
    pub async fn confirm(&self, question: &str) -> Result<bool> {
        prompt::confirm(question).await
    }

    /// Asks `prompt` until the answer is one of a choice's words (in any case); `None` at the
    /// end of input.
    pub async fn choose<T: Copy>(&self, prompt: &str, choices: &[(&[&str], T)]) -> Result<Option<T>> {
        prompt::choose(prompt, choices).await
    }
}
