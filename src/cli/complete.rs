//! Shell completion through clap_complete's dynamic engine: the script `jenv completions SHELL`
//! prints calls back into jenv (`COMPLETE=SHELL jenv -- WORDS`) on every Tab, so values that only
//! exist at run time, like this folder's snapshot tags, complete too.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};

use crate::cli::{Cli, ShellArg};
use crate::notebook::Context;

/// The variable the registration script sets when it asks jenv for candidates.
const VAR: &str = "COMPLETE";
/// A Tab must not hang on an engine that does not answer.
const ENGINE_DEADLINE: Duration = Duration::from_secs(3);

/// Answers a completion request and exits, when this run is one (`COMPLETE` is set).
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command).var(VAR).complete();
}

/// Writes the script that registers jenv's completion in `shell`.
pub fn write_registration(shell: ShellArg, out: &mut dyn Write) -> Result<()> {
    let name = match shell {
        ShellArg::Bash => "bash",
        ShellArg::Zsh => "zsh",
        ShellArg::Fish => "fish",
        ShellArg::Powershell => "powershell",
        ShellArg::Elvish => "elvish",
    };
    let shells = Shells::builtins();
    let completer = shells.completer(name).context("clap_complete knows every shell jenv offers")?;
    completer.write_registration(VAR, "jenv", "jenv", &completer_path(), out)?;
    Ok(())
}

/// How the script calls jenv back: as it was called now, made absolute when it was a path
/// (as `CompleteEnv` does), so a Tab runs the same binary.
fn completer_path() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_else(|| OsString::from("jenv"));
    let path = std::path::PathBuf::from(argv0);
    let path = match std::env::current_dir() {
        Ok(cwd) if path.components().count() > 1 => cwd.join(path),
        _ => path,
    };
    path.to_string_lossy().into_owned()
}

/// This folder's snapshot tags, newest first, with their messages as help. Nothing (never an
/// error) when there is no manifest or no engine.
pub fn snapshot_tags(current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return Vec::new() };
    let entries = runtime.block_on(async {
        let history = async { Context::load().await?.history().await };
        tokio::time::timeout(ENGINE_DEADLINE, history).await.ok().and_then(Result::ok).unwrap_or_default()
    });
    entries
        .into_iter()
        .filter(|e| e.tag.starts_with(prefix.as_ref()))
        .map(|e| {
            let help = match (e.current, e.message.is_empty()) {
                (true, true) => "current".to_string(),
                (true, false) => format!("current: {}", e.message),
                (false, _) => e.message.clone(),
            };
            CompletionCandidate::new(&e.tag).help((!help.is_empty()).then(|| help.into()))
        })
        .collect()
}
