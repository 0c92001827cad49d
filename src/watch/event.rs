//! What the watcher reports: the command prints each event as text, or as one JSON object a line.

use serde::Serialize;

/// What the watcher reports, as text or as one JSON object a line.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Watching { folder: String, files: Vec<String> },
    WaitingForNotebook,
    FileChanged { file: String, lines: Vec<String> },
    FileDeleted { file: String },
    AlreadySatisfied { file: String },
    InstallStarted { file: String, command: String, at_ms: u128 },
    InstallFailed { file: String, exit_code: i64 },
    Installed { file: String },
    PackagesChanged { changes: Vec<String> },
    Snapshot { tag: String, size_added: i64, commit_ms: u128 },
    Skipped { reason: String },
}

impl Event {
    /// The event as a line (or lines) for a person.
    pub fn text(&self) -> String {
        match self {
            Event::Watching { folder, files } => format!("watching {} in {folder} (Ctrl-C to stop)", files.join(", ")),
            Event::WaitingForNotebook => "the notebook is not running; waiting for `jenv up`".into(),
            Event::FileChanged { file, lines } => {
                let detail: String = lines.iter().map(|l| format!("\n{l}")).collect();
                format!("{file} changed{}{detail}", if lines.is_empty() { "" } else { "; against what is installed:" })
            }
            Event::FileDeleted { file } => format!("{file} was deleted; nothing is uninstalled"),
            Event::AlreadySatisfied { file } => {
                format!("{file} changed, and the notebook already has everything it lists")
            }
            Event::InstallStarted { command, .. } => format!("installing: {command}"),
            Event::InstallFailed { file, exit_code } => {
                format!("installing {file} failed (exit code {exit_code}); no snapshot taken, still watching")
            }
            Event::Installed { file } => format!("installed {file}"),
            Event::PackagesChanged { changes } => {
                format!(
                    "packages changed in the notebook:{}",
                    changes.iter().map(|c| format!("\n  {c}")).collect::<String>()
                )
            }
            Event::Snapshot { tag, commit_ms, .. } => format!("snapshot {tag} taken (committed in {commit_ms} ms)"),
            Event::Skipped { reason } => reason.clone(),
        }
    }
}
