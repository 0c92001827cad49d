use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{InitArgs, UiArg};
use crate::error::hinted;
use crate::manifest::docker_run;
use crate::manifest::keys::{Resources, Ui};
use crate::manifest::trust::{ManifestFile, TrustStore};
use crate::manifest::user_config::UserConfig;
use crate::manifest::{FILE_NAME, InitOptions, Manifest, container_name};
use crate::state::StateDir;
use crate::state::files::write_atomic;

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    let path = folder.join(FILE_NAME);
    if path.exists() && !args.force {
        hinted!("{} already exists", path.display(); "keep it, or overwrite it with `jenv init --force`");
    }
    let (options, notes) = options(args, &folder)?;
    let manifest = Manifest::for_folder(&folder, options)?;
    write(&folder, &manifest)?;
    println!("wrote {}", path.display());
    println!("  name:      {} (container {})", manifest.name, container_name(&manifest.name));
    println!("  image:     {}", manifest.image);
    println!("  snapshots: {}", manifest.repository);
    for note in notes {
        eprintln!("note: {note}");
    }
    println!("next: `jenv up` starts the notebook");
    Ok(ExitCode::SUCCESS)
}

/// What `jenv init` with no flags writes for `folder`: jenv's defaults under the user's own.
pub fn default_manifest(folder: &Path) -> Result<Manifest> {
    let config = UserConfig::load()?;
    let options = InitOptions { image: config.default_image(), ui: config.ui, ..Default::default() };
    Manifest::for_folder(folder, options)
}

/// Writes `manifest` into `folder` and trusts it: this user wrote it, here, with jenv.
pub fn write(folder: &Path, manifest: &Manifest) -> Result<()> {
    // Extra mounts must exist now, as they must when the notebook starts.
    for mount in &manifest.mounts {
        mount.resolve(folder)?;
    }
    let folder = folder.canonicalize().with_context(|| format!("cannot resolve {}", folder.display()))?;
    let path = folder.join(FILE_NAME);
    // Trusted before it exists: another jenv that finds the file (a second `up --init` in the
    // same folder, started at the same moment) must never see it untrusted.
    let file = ManifestFile { path: path.clone(), text: manifest.to_toml() };
    TrustStore::new(&StateDir::locate()?).trust(&file)?;
    write_atomic(&path, file.text.as_bytes())?;
    // The manifest is meant to be shared with the project, unlike jenv's private state.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(())
}

/// The manifest settings the flags (or a `docker run` line) ask for, and notes for the user.
fn options(args: InitArgs, folder: &Path) -> Result<(InitOptions, Vec<String>)> {
    let ui = args.ui.map(|ui| match ui {
        UiArg::Lab => Ui::Lab,
        UiArg::Notebook => Ui::Notebook,
    });
    if let Some(line) = &args.from_docker_run {
        let converted = docker_run::convert(line, folder)?;
        let options = InitOptions { name: args.name, ui: ui.or(converted.options.ui), ..converted.options };
        return Ok((options, converted.notes));
    }
    let config = UserConfig::load()?;
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
