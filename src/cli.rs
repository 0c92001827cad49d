//! Command-line definitions only; each command's behaviour lives in `cmd/`.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "jenv", version, about = "Each work folder its own Jupyter-in-Docker notebook")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a .jupyter-env manifest in the current folder
    Init(InitArgs),
    /// Start this folder's notebook and print its URL
    Up(UpArgs),
    /// Stop this folder's notebook and remove its container
    Down(DownArgs),
    /// Show this folder's environment, or every jenv environment with --all
    Status(StatusArgs),
    /// Print the notebook URL (with token) on one line
    Url,
    /// Open the notebook in the browser
    Open,
    /// Show the notebook's logs
    Logs(LogsArgs),
    /// Run a command in the notebook container as the notebook user
    Exec(ExecArgs),
    /// Open an interactive shell in the notebook container
    Shell,
    /// Commit the running notebook into this folder's own image
    Snapshot(SnapshotArgs),
    /// List packages added, removed or changed since the notebook started from its image
    Diff(JsonArgs),
    /// List this folder's snapshots
    History(JsonArgs),
    /// Make an earlier snapshot the one the next `jenv up` starts from
    Rollback(RollbackArgs),
    /// Remove old snapshots that no container uses
    Prune(PruneArgs),
    /// Recreate this folder's image from its base image and .jupyter-env.lock
    Rebuild,
    /// Watch requirement files and in-notebook installs; offer to install and snapshot
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Install and snapshot without asking (also `yes = true` under [watch] in the manifest)
    #[arg(long)]
    pub yes: bool,
    /// Report events as JSON lines on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Base image (default: a Jupyter docker-stacks image)
    #[arg(long)]
    pub image: Option<String>,
    /// Environment name (default: folder name plus a short hash of its path)
    #[arg(long)]
    pub name: Option<String>,
    /// Extra port to publish, as NAME=CONTAINER_PORT (repeatable)
    #[arg(long = "port", value_name = "NAME=CONTAINER_PORT", value_parser = parse_port)]
    pub ports: Vec<(String, u16)>,
    /// Overwrite an existing .jupyter-env
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stay in the foreground streaming logs; Ctrl-C stops the notebook
    #[arg(long)]
    pub attach: bool,
    /// With --attach: also run `jenv watch` in the same terminal (implies --attach)
    #[arg(long)]
    pub watch: bool,
    /// With --watch: install and snapshot without asking
    #[arg(long, requires = "watch")]
    pub yes: bool,
    /// Print the result as JSON
    #[arg(long, conflicts_with_all = ["attach", "watch"])]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop even if packages were changed since the last snapshot, dropping those changes
    #[arg(long, conflicts_with = "snapshot")]
    pub discard: bool,
    /// Take a snapshot first, then stop
    #[arg(long)]
    pub snapshot: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// A note kept with the snapshot (shown by `jenv history`)
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Squash the image into one layer now, whatever its layer count
    #[arg(long)]
    pub flatten: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The snapshot tag (default: the one before the current snapshot)
    pub tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many of the newest snapshots to keep
    #[arg(long, default_value_t = 5)]
    pub keep: usize,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every jenv environment on the engine, not just this folder's
    #[arg(long)]
    pub all: bool,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep following new output
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The command and its arguments (after `--`)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<String>,
}

fn parse_port(text: &str) -> Result<(String, u16), String> {
    let (name, port) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=CONTAINER_PORT, e.g. spark=4040"))?;
    let port: u16 = port.parse().map_err(|_| format!("`{port}` is not a port number (1-65535)"))?;
    if name.is_empty() || port == 0 {
        return Err(format!("`{text}` is not NAME=CONTAINER_PORT, e.g. spark=4040"));
    }
    Ok((name.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn port_flag_parsing() {
        assert_eq!(parse_port("spark=4040").unwrap(), ("spark".to_string(), 4040));
        for bad in ["spark", "=4040", "spark=0", "spark=99999", "spark=x"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }
}
