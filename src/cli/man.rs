//! `jenv man`: the man pages, generated from the command line's own definitions.

use std::process::ExitCode;

use crate::ui::Console;
use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write jenv.1 and one page per command (jenv-up.1, ...) into this folder instead
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<std::path::PathBuf>,
}

/// Prints jenv's man page (roff) for `command`, the whole command line, or writes one page per
/// command into a folder.
pub fn run(args: ManArgs, command: clap::Command, console: Console) -> Result<ExitCode> {
    match args.dir {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?,
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            console.note(format_args!(
                "wrote the man pages into {}; read one with `man {}/jenv.1`",
                dir.display(),
                dir.display()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
