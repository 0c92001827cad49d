//! The `.jupyter-env` manifest: its schema, validation, and discovery from any subfolder.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::Hinted;

pub const FILE_NAME: &str = ".jupyter-env";
pub const DEFAULT_IMAGE: &str = "quay.io/jupyter/base-notebook:latest";
pub const DEFAULT_MOUNT: &str = "/home/jovyan/work";
/// The port whose host side serves the notebook URL.
pub const JUPYTER_PORT: &str = "jupyter";
const DEFAULT_JUPYTER_PORT: u16 = 8888;
const MAX_NAME_LEN: usize = 48;

/// What `.jupyter-env` holds. Unknown keys are rejected so a typo never goes unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// This folder's environment name; the container is `jenv-<name>`.
    pub name: String,
    /// The base image a fresh environment starts from.
    pub image: String,
    /// The repository of the folder's own committed image (`jenv snapshot` writes it).
    pub repository: String,
    /// Where the folder is mounted inside the container.
    #[serde(default = "default_mount")]
    pub mount: String,
    /// Named container ports to publish on 127.0.0.1; `jupyter` is the notebook itself.
    pub ports: BTreeMap<String, u16>,
    /// What `jenv watch` follows.
    #[serde(default, skip_serializing_if = "WatchConfig::is_default")]
    pub watch: WatchConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Requirement files, relative to the folder; missing ones are watched for creation.
    #[serde(default = "default_watch_files")]
    pub files: Vec<String>,
    /// Install and snapshot without asking, as `jenv watch --yes` does.
    #[serde(default)]
    pub yes: bool,
}

impl Default for WatchConfig {
    fn default() -> WatchConfig {
        WatchConfig { files: default_watch_files(), yes: false }
    }
}

impl WatchConfig {
    fn is_default(&self) -> bool {
        *self == WatchConfig::default()
    }
}

fn default_watch_files() -> Vec<String> {
    ["requirements.txt", "environment.yml", "pyproject.toml"].map(String::from).to_vec()
}

fn default_mount() -> String {
    DEFAULT_MOUNT.to_string()
}

/// A manifest together with the folder it describes.
#[derive(Debug, Clone)]
pub struct Project {
    pub folder: PathBuf,
    pub manifest: Manifest,
}

impl Project {
    pub fn container_name(&self) -> String {
        container_name(&self.manifest.name)
    }
}

pub fn container_name(env_name: &str) -> String {
    format!("jenv-{env_name}")
}

/// The settings `jenv init` takes; `None` means "use the default".
#[derive(Debug, Default)]
pub struct InitOptions {
    pub image: Option<String>,
    pub name: Option<String>,
    pub ports: Vec<(String, u16)>,
}

impl Manifest {
    /// Builds the manifest `jenv init` writes for `folder` (an absolute, canonical path).
    pub fn for_folder(folder: &Path, options: InitOptions) -> Result<Manifest> {
        let name = match options.name {
            Some(name) => name,
            None => derive_name(folder),
        };
        let mut ports = BTreeMap::from([(JUPYTER_PORT.to_string(), DEFAULT_JUPYTER_PORT)]);
        ports.extend(options.ports);
        let manifest = Manifest {
            repository: format!("jenv/{name}"),
            name,
            image: options.image.unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
            mount: default_mount(),
            ports,
            watch: WatchConfig::default(),
        };
        manifest.validate()?;
        Ok(manifest)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text).map_err(|err| {
            Hinted::new(
                format!("{} is not a valid manifest:\n{err}", path.display()),
                format!("fix the file, or recreate it with `jenv init --force` in {}", parent(path)),
            )
        })?;
        manifest.validate().with_context(|| format!("{} is not a valid manifest", path.display()))?;
        Ok(manifest)
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a manifest always serializes");
        format!(
            "# jenv environment for this folder: see `jenv --help` and docs/manifest.md\n\
             # container: {}\n{body}",
            container_name(&self.name)
        )
    }

    fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        if self.image.trim().is_empty() {
            return Err(Hinted::new(
                "`image` is empty",
                "name a Jupyter image, e.g. `image = \"quay.io/jupyter/base-notebook:latest\"`",
            )
            .into());
        }
        if !is_valid_repository(&self.repository) {
            return Err(Hinted::new(
                format!("`repository = \"{}\"` is not a valid image repository", self.repository),
                "use lowercase letters, digits and . _ - / separators, e.g. `jenv/my-project`",
            )
            .into());
        }
        if !self.mount.starts_with('/') {
            return Err(Hinted::new(
                format!("`mount = \"{}\"` is not an absolute container path", self.mount),
                format!("use e.g. `mount = \"{DEFAULT_MOUNT}\"`"),
            )
            .into());
        }
        if !self.ports.contains_key(JUPYTER_PORT) {
            return Err(Hinted::new(
                "[ports] has no `jupyter` entry, so jenv cannot tell which port serves the notebook",
                "add `jupyter = 8888` under [ports]",
            )
            .into());
        }
        for file in &self.watch.files {
            let escapes = Path::new(file).components().any(|c| !matches!(c, std::path::Component::Normal(_)));
            if file.is_empty() || escapes {
                return Err(Hinted::new(
                    format!("[watch] file `{file}` is not a path inside the folder"),
                    "list files relative to the folder, e.g. `files = [\"requirements.txt\"]`",
                )
                .into());
            }
        }
        for (name, port) in &self.ports {
            validate_port_name(name)?;
            if *port == 0 {
                return Err(
                    Hinted::new(format!("port `{name}` is 0"), "give a container port between 1 and 65535").into()
                );
            }
        }
        Ok(())
    }
}

/// A name must be usable both in a container name and in an image repository.
pub fn validate_name(name: &str) -> Result<()> {
    let valid_chars =
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ends_well = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid_chars && starts_well && ends_well && name.len() <= MAX_NAME_LEN {
        return Ok(());
    }
    Err(Hinted::new(
        format!("`{name}` is not a valid environment name"),
        format!(
            "use 1-{MAX_NAME_LEN} lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ),
    )
    .into())
}

fn validate_port_name(name: &str) -> Result<()> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(());
    }
    Err(Hinted::new(format!("`{name}` is not a valid port name"), "use letters, digits, '-' or '_'").into())
}

fn is_valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        })
}

/// A stable name for a folder: its basename, made safe, plus a short hash of its full path so
/// two folders with the same basename never share a container or an image.
pub fn derive_name(folder: &Path) -> String {
    let base = folder.file_name().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut slug = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(MAX_NAME_LEN - 9).collect();
    let slug = slug.trim_end_matches('-');
    let hash = format!("{:08x}", fnv1a(folder.as_os_str().as_encoded_bytes()) as u32);
    if slug.is_empty() { format!("env-{hash}") } else { format!("{slug}-{hash}") }
}

/// FNV-1a: tiny, dependency-free and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Finds `.jupyter-env` in `start` or the nearest parent that has one, as git finds `.git`.
pub fn discover(start: &Path) -> Result<Project> {
    for folder in start.ancestors() {
        let path = folder.join(FILE_NAME);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let manifest = Manifest::parse(&text, &path)?;
                return Ok(Project { folder: folder.to_path_buf(), manifest });
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Err(Hinted::new(
        format!("no {FILE_NAME} found in {} or any parent folder", start.display()),
        "run `jenv init` in your project folder to create one",
    )
    .into())
}

fn parent(path: &Path) -> String {
    path.parent().map(|p| p.display().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        Manifest::for_folder(Path::new("/home/ana/analysis"), InitOptions::default()).unwrap().to_toml()
    }

    #[test]
    fn init_defaults_round_trip() {
        let text = sample();
        let manifest = Manifest::parse(&text, Path::new("/x/.jupyter-env")).unwrap();
        assert_eq!(manifest.image, DEFAULT_IMAGE);
        assert_eq!(manifest.mount, DEFAULT_MOUNT);
        assert_eq!(manifest.ports, BTreeMap::from([("jupyter".to_string(), 8888)]));
        assert!(manifest.name.starts_with("analysis-"), "{}", manifest.name);
        assert_eq!(manifest.repository, format!("jenv/{}", manifest.name));
    }

    #[test]
    fn same_basename_different_folders_get_different_names() {
        let a = derive_name(Path::new("/home/ana/project"));
        let b = derive_name(Path::new("/home/bob/project"));
        assert_ne!(a, b);
        assert!(a.starts_with("project-") && b.starts_with("project-"));
        assert_eq!(a, derive_name(Path::new("/home/ana/project")), "stable for a folder");
    }

    #[test]
    fn derived_names_are_always_valid() {
        for folder in ["/", "/tmp/My Project!", "/x/--__--", "/x/Ünïcødé", &format!("/x/{}", "a".repeat(200))] {
            let name = derive_name(Path::new(folder));
            validate_name(&name).unwrap_or_else(|e| panic!("{folder} gave {name}: {e}"));
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for name in ["", "Upper", "-dash", "dash-", "has space", "sl/ash", &"a".repeat(49)] {
            assert!(validate_name(name).is_err(), "{name:?} should be rejected");
        }
        validate_name("ok-name_1.2").unwrap();
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = Manifest::parse("name = \"a\"\nimage = \n", Path::new("/p/.jupyter-env")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("/p/.jupyter-env"), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn unknown_key_is_named_with_the_valid_keys() {
        let text = format!("colour = \"red\"\n{}", sample());
        let err = Manifest::parse(&text, Path::new("/p/.jupyter-env")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("colour"), "{text}");
        assert!(text.contains("`image`") && text.contains("`ports`"), "{text}");
    }

    #[test]
    fn watch_section_defaults_and_validation() {
        let manifest = Manifest::parse(&sample(), Path::new("/p/.jupyter-env")).unwrap();
        assert_eq!(manifest.watch.files, ["requirements.txt", "environment.yml", "pyproject.toml"]);
        assert!(!sample().contains("[watch]"), "defaults are not written out");
        let custom = Manifest::parse(
            &format!("{}\n[watch]\nfiles = [\"env/req.txt\"]\nyes = true\n", sample()),
            Path::new("/p/m"),
        )
        .unwrap();
        assert_eq!((custom.watch.files.as_slice(), custom.watch.yes), (&["env/req.txt".to_string()][..], true));
        let escaping = format!("{}\n[watch]\nfiles = [\"../x.txt\"]\n", sample());
        assert!(Manifest::parse(&escaping, Path::new("/p/m")).is_err());
    }

    #[test]
    fn missing_jupyter_port_is_rejected() {
        let text = sample().replace("jupyter = 8888", "spark = 4040");
        let err = Manifest::parse(&text, Path::new("/p/.jupyter-env")).unwrap_err();
        assert!(format!("{err:#}").contains("no `jupyter` entry"));
    }

    #[test]
    fn discovery_walks_up_to_the_nearest_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join(FILE_NAME), sample()).unwrap();
        let deep = root.join("a/b/c");
        fs::create_dir_all(&deep).unwrap();
        assert_eq!(discover(&deep).unwrap().folder, root);
    }

    #[test]
    fn discovery_failure_says_where_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = discover(dir.path()).unwrap_err();
        let hinted = err.downcast_ref::<Hinted>().unwrap();
        assert!(hinted.message.contains(&dir.path().display().to_string()));
        assert!(hinted.hint.contains("jenv init"));
    }
}
