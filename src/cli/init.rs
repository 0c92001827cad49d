//! `jenv init`: a .jupyter-env written from flags, the user's defaults or a `docker run` line.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::error::hinted;
use crate::manifest::docker_run;
use crate::manifest::keys::{JupyterUi, MountSpec, PortSpec, Resources};
use crate::manifest::trust::write_trusted;
use crate::manifest::user_config::UserConfig;
use crate::manifest::{FILE_NAME, InitOptions, Manifest, container_name};
use crate::state::StateDir;
use crate::ui::Console;

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
    pub ui: Option<JupyterUiArg>,
    /// Build the manifest from a `docker run ...` line (an alias you used so far)
    #[arg(long, value_name = "'docker run ...'", conflicts_with_all = ["image", "ports", "env", "env_file", "mounts", "gpus", "memory", "cpus", "shm_size"])]
    pub from_docker_run: Option<String>,
    /// Overwrite an existing .jupyter-env
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum JupyterUiArg {
    Lab,
    Notebook,
}

pub fn run(args: InitArgs, console: Console) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    let path = folder.join(FILE_NAME);
    if path.exists() && !args.force {
        hinted!("{} already exists", path.display(); "keep it, or overwrite it with `jenv init --force`");
    }
    let (options, notes) = options(args, &folder, &console)?;
    let manifest = Manifest::for_folder(&folder, options)?;
    write_trusted(&folder, &manifest, &StateDir::locate()?)?;
    console.result(format_args!("wrote {}", path.display()));
    console.result(format_args!("  name:      {} (container {})", manifest.name, container_name(&manifest.name)));
    console.result(format_args!("  image:     {}", manifest.image));
    console.result(format_args!("  snapshots: {}", manifest.repository));
    for note in notes {
        console.note(format_args!("note: {note}"));
    }
    console.result("next: `jenv up` starts the notebook");
    Ok(ExitCode::SUCCESS)
}

/// The manifest settings the flags (or a `docker run` line) ask for, and notes for the user.
fn options(args: InitArgs, folder: &Path, console: &Console) -> Result<(InitOptions, Vec<String>)> {
    let ui = args.ui.map(|ui| match ui {
        JupyterUiArg::Lab => JupyterUi::Lab,
        JupyterUiArg::Notebook => JupyterUi::Notebook,
    });
    if let Some(line) = &args.from_docker_run {
        let converted = docker_run::convert(line, folder)?;
        let options = InitOptions { name: args.name, ui: ui.or(converted.options.ui), ..converted.options };
        return Ok((options, converted.notes));
    }
    let config = UserConfig::load(console)?;
    let gpus = args.gpus.as_deref().map(docker_run::parse_gpus);
    let resources = Resources { memory: args.memory, cpus: args.cpus, shm_size: args.shm_size, gpus };
    let options = InitOptions {
        image: args.image.or_else(|| config.default_image()),
        name: args.name,
        ports: args.ports,
        env: args.env,
        env_file: args.env_file,
        mounts: args.mounts,
        resources,
        ui: ui.or(config.ui),
        ..Default::default()
    };
    Ok((options, Vec::new()))
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
