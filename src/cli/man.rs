use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};

/// Prints jenv's man page (roff), or writes one page per command into a folder.
pub fn run(args: ManArgs) -> Result<ExitCode> {
    let command = Cli::command();
    match args.dir {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?,
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            eprintln!("wrote the man pages into {}; read one with `man {}/jenv.1`", dir.display(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
