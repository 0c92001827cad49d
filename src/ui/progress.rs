//! Progress on long waits: a spinner or a byte bar on a terminal, one plain line otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress at all, on a terminal or not.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner with a message, for waits of unknown length.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub fn new(message: &str) -> Spinner {
        if quiet() {
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
pub struct Bytes(Option<ProgressBar>);

impl Bytes {
    pub fn new(message: &str) -> Bytes {
        if quiet() {
            return Bytes(None);
        }
        if !on_terminal() {
            eprintln!("{message}...");
            return Bytes(None);
        }
        let style = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
            .expect("static template")
            .progress_chars("=> ");
        Bytes(Some(ProgressBar::new(0).with_style(style).with_message(message.to_string())))
    }

    /// A line of its own where there is no bar (not a terminal), e.g. a layer finished.
    pub fn line(&self, text: &str) {
        if self.0.is_none() && !quiet() {
            eprintln!("{text}");
        }
    }

    pub fn set(&self, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The steps of an image build: a spinner naming the current step on a terminal, a line per step
/// otherwise. What the steps print is not shown (a failure quotes its last lines).
pub struct Steps {
    bar: Option<ProgressBar>,
    message: String,
    plain: bool,
}

impl Steps {
    pub fn new(message: &str) -> Steps {
        let spinner = Spinner::new(message);
        let plain = spinner.0.is_none() && !quiet();
        Steps { bar: spinner.0, message: message.to_string(), plain }
    }

    pub fn step(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{}: {text}", self.message)),
            None if self.plain => eprintln!("  {text}"),
            None => {}
        }
    }

    /// A warning about the build, printed also with --quiet.
    pub fn warn(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("warning: {text}")),
            None => eprintln!("warning: {text}"),
        }
    }

    pub fn output(&self, _text: &str) {
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
