use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CompletionsArgs;

/// Prints the script that registers jenv's completion; the shell sources it.
pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    crate::cli::complete::write_registration(args.shell, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
