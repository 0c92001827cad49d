use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{InitArgs, UiArg};
use crate::dockerrun;
use crate::error::hinted;
use crate::manifest::{FILE_NAME, InitOptions, Manifest, container_name};
use crate::settings::{Gpus, Resources, Ui};
use crate::state::write_atomic;

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    let path = folder.join(FILE_NAME);
    if path.exists() && !args.force {
        hinted!("keep it, or overwrite it with `jenv init --force`", "{} already exists", path.display());
    }
    let (options, notes) = options(args, &folder)?;
    let manifest = Manifest::for_folder(&folder, options)?;
    // Extra mounts must exist now, as they must when the notebook starts.
    for mount in &manifest.mounts {
        mount.resolve(&folder)?;
    }
    write_atomic(&path, manifest.to_toml().as_bytes())?;
    // The manifest is meant to be shared with the project, unlike jenv's private state.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
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

/// The manifest settings the flags (or a `docker run` line) ask for, and notes for the user.
fn options(args: InitArgs, folder: &std::path::Path) -> Result<(InitOptions, Vec<String>)> {
    let ui = args.ui.map(|ui| match ui {
        UiArg::Lab => Ui::Lab,
        UiArg::Notebook => Ui::Notebook,
    });
    if let Some(line) = &args.from_docker_run {
        let converted = dockerrun::convert(line, folder)?;
        let options = InitOptions { name: args.name, ui: ui.or(converted.options.ui), ..converted.options };
        return Ok((options, converted.notes));
    }
    let gpus = args.gpus.map(|g| match g.parse() {
        Ok(count) => Gpus::Count(count),
        Err(_) if g == "all" => Gpus::All(g),
        Err(_) => Gpus::Devices(g.split(',').map(str::to_string).collect()),
    });
    let resources = Resources { memory: args.memory, gpus, ..Default::default() };
    let options = InitOptions {
        image: args.image,
        name: args.name,
        ports: args.ports,
        env: args.env,
        mounts: args.mounts,
        resources,
        ui,
        ..Default::default()
    };
    Ok((options, Vec::new()))
}
