//! Signals that mean "stop now": Ctrl-C, a terminal closing, or a polite kill.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for SIGINT, SIGTERM and SIGHUP from the moment it is made: a signal that arrives while
/// nobody is waiting is kept for the next [`Interrupts::recv`], never lost (as it would be between
/// two futures of [`interrupted`] in a loop).
pub struct Interrupts {
    streams: Vec<Signal>,
}

impl Interrupts {
    pub fn listen() -> Interrupts {
        let kinds = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
        Interrupts { streams: kinds.into_iter().filter_map(|kind| signal(kind).ok()).collect() }
    }

    /// Resolves on the next of those signals (or one already received).
    pub async fn recv(&mut self) {
        let waits = self.streams.iter_mut().map(|s| Box::pin(s.recv()));
        futures_util::future::select_all(waits).await;
    }
}

/// Resolves on the first SIGINT, SIGTERM or SIGHUP, so callers can clean up before exiting. For
/// one wait; a loop that waits again and again uses [`Interrupts`].
pub async fn interrupted() {
    Interrupts::listen().recv().await;
}
