//! Progress on long waits: a spinner or a byte bar on a terminal, one plain line otherwise, and
//! nothing at all under `--quiet`. Made by [`crate::ui::Console`].

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner with a message, for waits of unknown length.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub(super) fn new(message: &str, quiet: bool) -> Spinner {
        if quiet {
            return Spinner(None);
        }
        if !on_terminal() {
            eprintln!("{message}...");
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }

    pub fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A bar counting bytes, for image pulls and pushes.
pub struct Bytes {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Bytes {
    pub(super) fn new(message: &str, quiet: bool) -> Bytes {
        if quiet {
            return Bytes { bar: None, quiet };
        }
        if !on_terminal() {
            eprintln!("{message}...");
            return Bytes { bar: None, quiet };
        }
        let style = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
            .expect("static template")
            .progress_chars("=> ");
        Bytes { bar: Some(ProgressBar::new(0).with_style(style).with_message(message.to_string())), quiet }
    }

    /// A line of its own where there is no bar (not a terminal), e.g. a layer finished.
    pub fn line(&self, text: &str) {
        if self.bar.is_none() && !self.quiet {
            eprintln!("{text}");
        }
    }

    pub fn set(&self, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The steps of an image build: a spinner naming the current step on a terminal, a line per step
/// otherwise, nothing under `--quiet`. What the steps print is not shown (a failure quotes its
/// last lines).
pub struct Steps {
    bar: Option<ProgressBar>,
    message: String,
    /// A line per step: no terminal, and not quiet.
    plain: bool,
}

impl Steps {
    pub(super) fn new(message: &str, quiet: bool) -> Steps {
        let Spinner(bar) = Spinner::new(message, quiet);
        Steps { plain: bar.is_none() && !quiet, bar, message: message.to_string() }
    }

    /// The builder started an instruction (`Step 2/5 : RUN ...`).
    pub fn step(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{}: {text}", self.message)),
            None if self.plain => eprintln!("  {text}"),
            None => {}
        }
    }

    /// The step printed a line: the spinner turns.
    pub fn output(&self) {
        if let Some(bar) = &self.bar {
            bar.tick();
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
