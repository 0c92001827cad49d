//! Signals that mean "stop now": Ctrl-C, a terminal closing, or a polite kill.

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGINT, SIGTERM or SIGHUP, so callers can clean up before exiting.
pub async fn interrupted() {
    let kinds = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
    let mut streams: Vec<_> = kinds.into_iter().filter_map(|kind| signal(kind).ok()).collect();
    let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
    futures_util::future::select_all(waits).await;
}
