//! The terminal: progress on long waits, questions to the person at it, their Ctrl-C, their
//! browser, and numbers as they read them.

pub mod format;
pub mod opener;
pub mod progress;
pub mod prompt;
pub mod signals;
