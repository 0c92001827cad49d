//! `jenv completions`: shell completion through clap_complete's dynamic engine. The script it
//! prints calls back into jenv (`COMPLETE=SHELL jenv -- WORDS`) on every Tab, so values that only
//! exist at run time, like this folder's snapshot tags, complete too.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use clap_complete::env::Shells;

/// The variable the registration script sets when it asks jenv for candidates.
pub const VAR: &str = "COMPLETE";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: ShellArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

/// Prints the script that registers jenv's completion; the shell sources it.
pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    write_registration(args.shell, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the script that registers jenv's completion in `shell`.
fn write_registration(shell: ShellArg, out: &mut dyn Write) -> Result<()> {
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
