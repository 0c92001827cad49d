//! The `--json` flag of the commands that take nothing else (diff, history, pull, doctor).

use clap::Args;

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}
