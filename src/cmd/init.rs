use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::InitArgs;
use crate::error::hinted;
use crate::manifest::{FILE_NAME, InitOptions, Manifest, container_name};
use crate::state::write_atomic;

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let folder = cwd.canonicalize().with_context(|| format!("cannot resolve {}", cwd.display()))?;
    let path = folder.join(FILE_NAME);
    if path.exists() && !args.force {
        hinted!("keep it, or overwrite it with `jenv init --force`", "{} already exists", path.display());
    }
    let options = InitOptions { image: args.image, name: args.name, ports: args.ports };
    let manifest = Manifest::for_folder(&folder, options)?;
    write_atomic(&path, manifest.to_toml().as_bytes())?;
    // The manifest is meant to be shared with the project, unlike jenv's private state.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    println!("wrote {}", path.display());
    println!("  name:      {} (container {})", manifest.name, container_name(&manifest.name));
    println!("  image:     {}", manifest.image);
    println!("  snapshots: {}", manifest.repository);
    println!("next: `jenv up` starts the notebook");
    Ok(ExitCode::SUCCESS)
}
