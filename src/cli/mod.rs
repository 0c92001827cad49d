//! Command-line definitions only; each command's behaviour lives in `cmd/`.
pub mod complete;
pub mod completions;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod export;
pub mod history;
pub mod init;
pub mod logs;
pub mod man;
pub mod orphans;
pub mod settle;
pub mod share;
pub mod snapshot;
pub mod status;
pub mod trust;
pub mod up;
pub mod url;
pub mod watch;

use clap::{Args, Parser, Subcommand};

use crate::manifest::keys::{MountSpec, PortSpec};

#[derive(Debug, Parser)]
#[command(name = "jenv", version, about = "Each work folder its own Jupyter-in-Docker notebook")]
pub struct Cli {
    /// Print no progress (spinners, bars, progress lines); results and errors still print
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run, so the size of `init`'s many flags costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
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
    /// Recreate this folder's image from its base image and .jupyter-env.lock (or its [build] files)
    Rebuild,
    /// Write the latest snapshot as files that rebuild it: Dockerfile, requirements, binder/, devcontainer
    Export(export::ExportArgs),
    /// Watch requirement files and in-notebook installs; offer to install and snapshot
    Watch(WatchArgs),
    /// Send this folder's current snapshot to the registry its repository names
    Push(PushArgs),
    /// Fetch the snapshot the folder's .jupyter-env.lock names from its registry
    Pull(JsonArgs),
    /// Trust this folder's .jupyter-env, so commands may run what it names
    Trust(TrustArgs),
    /// Forget that you trusted this folder's .jupyter-env
    Untrust,
    /// Print the shell script that completes jenv's commands, flags and snapshot tags
    Completions(CompletionsArgs),
    /// Print jenv's man page (or write one page per command with --dir)
    Man(ManArgs),
    /// Check the engine, its socket and storage, the image, ports, state and leftovers; say how to fix each
    Doctor(JsonArgs),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push every snapshot of the folder, not only the current one
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Show the manifest (or what changed since you trusted it) and whether it is trusted; change nothing
    #[arg(long)]
    pub show: bool,
}

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

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write jenv.1 and one page per command (jenv-up.1, ...) into this folder instead
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Install and snapshot without asking (also `yes = true` under [watch] in the manifest or
    /// the user config)
    #[arg(long)]
    pub yes: bool,
    /// Ask before each install even if the manifest or the user config says `yes = true`
    #[arg(long, conflicts_with = "yes")]
    pub ask: bool,
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
    /// Extra port to publish, as NAME=CONTAINER_PORT or NAME=LOW-HIGH (repeatable)
    #[arg(long = "port", value_name = "NAME=PORT[-HIGH]", value_parser = parse_port)]
    pub ports: Vec<(String, PortSpec)>,
    /// Environment variable for the notebook, as NAME=VALUE (repeatable)
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Extra bind mount, as SOURCE:TARGET[:rw] (read-only unless :rw; repeatable)
    #[arg(long = "mount", value_name = "SRC:DST[:rw]", value_parser = parse_mount)]
    pub mounts: Vec<MountSpec>,
    /// Dotenv file of variables for the notebook, relative to the folder (e.g. .env)
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<String>,
    /// GPUs to request, as docker run takes them: all, a count, or device=ID,ID
    #[arg(long, value_name = "all|N|device=ID,ID")]
    pub gpus: Option<String>,
    /// Memory limit, e.g. 8g
    #[arg(long)]
    pub memory: Option<String>,
    /// CPU limit, e.g. 2.5
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Size of /dev/shm, e.g. 1g (PyTorch data loaders need more than the 64m default)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Which UI the printed URL opens (default: Lab on docker-stacks images, else the classic tree)
    #[arg(long, value_enum)]
    pub ui: Option<UiArg>,
    /// Build the manifest from a `docker run ...` line (an alias you used so far)
    #[arg(long, value_name = "'docker run ...'", conflicts_with_all = ["image", "ports", "env", "env_file", "mounts", "gpus", "memory", "cpus", "shm_size"])]
    pub from_docker_run: Option<String>,
    /// Overwrite an existing .jupyter-env
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UiArg {
    Lab,
    Notebook,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// With no .jupyter-env here or above, write the default one here without asking
    #[arg(long)]
    pub init: bool,
    /// Stay in the foreground streaming logs; Ctrl-C stops the notebook
    #[arg(long)]
    pub attach: bool,
    /// With --attach: also run `jenv watch` in the same terminal (implies --attach)
    #[arg(long)]
    pub watch: bool,
    /// With --watch: install and snapshot without asking
    #[arg(long, requires = "watch")]
    pub yes: bool,
    /// With --watch: ask before each install even if the manifest or user config says `yes = true`
    #[arg(long, requires = "watch", conflicts_with = "yes")]
    pub ask: bool,
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
    #[arg(add = clap_complete::ArgValueCompleter::new(crate::cli::complete::snapshot_tags))]
    pub tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many of the newest snapshots to keep
    #[arg(long, default_value_t = 5)]
    pub keep: usize,
    /// Instead: remove jenv containers whose folders no longer exist, and free their ports
    #[arg(long, conflicts_with = "keep")]
    pub orphans: bool,
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

fn parse_port(text: &str) -> Result<(String, PortSpec), String> {
    let usage = || format!("`{text}` is not NAME=PORT or NAME=LOW-HIGH, e.g. spark=4040 or spark-ui=4040-4042");
    let (name, port) = text.split_once('=').ok_or_else(usage)?;
    if name.is_empty() {
        return Err(usage());
    }
    let spec = match port.parse::<u16>() {
        Ok(port) => PortSpec::One(port),
        Err(_) if port.contains('-') => PortSpec::Range(port.to_string()),
        Err(_) => return Err(format!("`{port}` is not a port number (1-65535)")),
    };
    spec.container_ports(name).map_err(|e| e.to_string())?;
    Ok((name.to_string(), spec))
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    crate::manifest::keys::validate_env_name(name, "--env").map_err(|e| e.to_string())?;
    Ok((name.to_string(), value.to_string()))
}

fn parse_mount(text: &str) -> Result<MountSpec, String> {
    let usage = || format!("`{text}` is not SOURCE:TARGET or SOURCE:TARGET:rw, e.g. ~/datasets:/data");
    let mut parts = text.split(':');
    let (Some(source), Some(target)) = (parts.next(), parts.next()) else { return Err(usage()) };
    let read_only = match parts.next() {
        None | Some("ro") => true,
        Some("rw") => false,
        Some(_) => return Err(usage()),
    };
    if source.is_empty() || target.is_empty() || parts.next().is_some() {
        return Err(usage());
    }
    Ok(MountSpec { source: source.to_string(), target: target.to_string(), read_only })
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
        assert_eq!(parse_port("spark=4040").unwrap(), ("spark".to_string(), PortSpec::One(4040)));
        assert_eq!(parse_port("ui=4040-4042").unwrap(), ("ui".to_string(), PortSpec::Range("4040-4042".into())));
        for bad in ["spark", "=4040", "spark=0", "spark=99999", "spark=x", "ui=4042-4040"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_and_mount_flag_parsing() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".to_string(), "b=c".to_string()));
        assert!(parse_env("novalue").unwrap_err().contains("is not NAME=VALUE"));
        assert!(parse_env("JUPYTER_TOKEN=x").unwrap_err().contains("set by jenv"));
        let mount = parse_mount("~/data:/data").unwrap();
        assert_eq!((mount.source.as_str(), mount.target.as_str(), mount.read_only), ("~/data", "/data", true));
        assert!(!parse_mount("out:/out:rw").unwrap().read_only);
        for bad in ["data", "data:/d:xx", ":/d", "a:b:rw:x"] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }
}
