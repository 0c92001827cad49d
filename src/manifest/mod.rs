//! The `.jupyter-env` manifest: its schema, validation, and discovery from any subfolder.
pub mod build;
pub mod docker_run;
pub mod dotenv;
pub mod keys;
pub mod trust;
pub mod user_config;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::Hinted;
use crate::manifest::build::BuildSpec;
use crate::manifest::keys::{JupyterUi, MountSpec, PortSpec, Resources};
use crate::manifest::user_config::UserConfig;

pub const FILE_NAME: &str = ".jupyter-env";
pub const DEFAULT_IMAGE: &str = "quay.io/jupyter/base-notebook:latest";
pub const DEFAULT_MOUNT: &str = "/home/jovyan/work";
/// The port whose host side serves the notebook URL.
pub const JUPYTER_PORT: &str = "jupyter";
const DEFAULT_JUPYTER_PORT: u16 = 8888;
const MAX_NAME_LEN: usize = 48;

/// What `.jupyter-env` holds, defaults filled in; jenv writes every plain key out.
/// (Plain values come before tables: TOML writes them in this order.)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// This folder's environment name; the container is `jenv-<name>`.
    pub name: String,
    /// The base image a fresh environment starts from.
    pub image: String,
    /// The repository of the folder's own committed image (`jenv snapshot` writes it).
    pub repository: String,
    /// Where the folder is mounted inside the container.
    pub mount: String,
    /// Which UI the printed URL opens; by default Lab on docker-stacks images, else the classic tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui: Option<JupyterUi>,
    /// A dotenv file, relative to the folder, whose variables the notebook gets (may be git-ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// Idleness after which the notebook stops itself (`"2h"`, `"30m"`; `"off"` never), over the
    /// user config's `idle_stop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_stop: Option<String>,
    /// Named container ports (or ranges, `"4040-4042"`) to publish on 127.0.0.1; `jupyter` is
    /// the notebook itself.
    pub ports: BTreeMap<String, PortSpec>,
    /// Environment variables for the notebook, `jenv exec`, `jenv shell` and installs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Extra bind mounts (read-only unless `read_only = false`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountSpec>,
    /// Memory, CPUs, shared memory and GPUs.
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// What `jenv watch` follows.
    #[serde(skip_serializing_if = "WatchConfig::is_default")]
    pub watch: WatchConfig,
    /// The files the image can be built from (`jenv export` writes them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSpec>,
}

/// `.jupyter-env` as a person may write it: every key can be left out and then has the default
/// docs/manifest.md gives. Unknown keys are rejected so a typo never goes unnoticed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    name: Option<String>,
    image: Option<String>,
    repository: Option<String>,
    mount: Option<String>,
    ui: Option<JupyterUi>,
    env_file: Option<String>,
    idle_stop: Option<String>,
    ports: Option<BTreeMap<String, PortSpec>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    mounts: Vec<MountSpec>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    watch: WatchConfig,
    build: Option<BuildSpec>,
}

impl Written {
    /// The manifest this text means for the folder holding it.
    fn with_defaults(self, folder: &Path) -> Manifest {
        let name = self.name.unwrap_or_else(|| derive_name(folder));
        Manifest {
            repository: self.repository.unwrap_or_else(|| default_repository(&name)),
            name,
            image: self.image.unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
            mount: self.mount.unwrap_or_else(default_mount),
            ui: self.ui,
            env_file: self.env_file,
            idle_stop: self.idle_stop,
            ports: self.ports.unwrap_or_else(default_ports),
            env: self.env,
            mounts: self.mounts,
            resources: self.resources,
            watch: self.watch,
            build: self.build,
        }
    }
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

fn default_repository(name: &str) -> String {
    format!("jenv/{name}")
}

fn default_ports() -> BTreeMap<String, PortSpec> {
    BTreeMap::from([(JUPYTER_PORT.to_string(), PortSpec::One(DEFAULT_JUPYTER_PORT))])
}

/// A manifest together with the folder it describes.
#[derive(Debug, Clone)]
pub struct Project {
    pub folder: PathBuf,
    pub manifest: Manifest,
    /// The manifest's text as read: what was parsed is what trust is judged on.
    pub text: String,
}

impl Project {
    pub fn container_name(&self) -> String {
        container_name(&self.manifest.name)
    }
}

pub fn container_name(env_name: &str) -> String {
    format!("jenv-{env_name}")
}

/// The settings `jenv init` takes; `None` (or empty) means "use the default".
#[derive(Debug, Default, Clone, PartialEq)]
pub struct InitOptions {
    pub image: Option<String>,
    pub name: Option<String>,
    pub mount: Option<String>,
    pub ports: Vec<(String, PortSpec)>,
    pub env: Vec<(String, String)>,
    pub env_file: Option<String>,
    pub mounts: Vec<MountSpec>,
    pub resources: Resources,
    pub ui: Option<JupyterUi>,
}

impl Manifest {
    /// Builds the manifest `jenv init` writes for `folder` (an absolute, canonical path).
    pub fn for_folder(folder: &Path, options: InitOptions) -> Result<Manifest> {
        let name = match options.name {
            Some(name) => name,
            None => derive_name(folder),
        };
        let mut ports = default_ports();
        ports.extend(options.ports);
        let manifest = Manifest {
            repository: default_repository(&name),
            name,
            image: options.image.unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
            mount: options.mount.unwrap_or_else(default_mount),
            ui: options.ui,
            env_file: options.env_file,
            idle_stop: None,
            ports,
            env: options.env.into_iter().collect(),
            mounts: options.mounts,
            resources: options.resources,
            watch: WatchConfig::default(),
            build: None,
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// What `jenv init` with no flags writes for `folder`: jenv's defaults under the user's own.
    pub fn default_for(folder: &Path, config: &UserConfig) -> Result<Manifest> {
        let options = InitOptions { image: config.default_image(), ui: config.ui, ..Default::default() };
        Manifest::for_folder(folder, options)
    }

    /// Reads the manifest at `path`; keys left out get their defaults for the folder holding it.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let written: Written = toml::from_str(text).map_err(|err| not_valid(&err, path))?;
        let manifest = written.with_defaults(path.parent().unwrap_or(Path::new("/")));
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
        if !matches!(self.ports.get(JUPYTER_PORT), Some(PortSpec::One(_))) {
            return Err(Hinted::new(
                "[ports] has no single `jupyter` port, so jenv cannot tell which port serves the notebook",
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
        for name in self.ports.keys() {
            validate_port_name(name)?;
        }
        keys::expand_ports(&self.ports)?;
        for name in self.env.keys() {
            keys::validate_env_name(name, "[env]")?;
        }
        if self.env_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            return Err(Hinted::new("`env_file` is empty", "name a dotenv file, e.g. `env_file = \".env\"`").into());
        }
        keys::validate_mounts(&self.mounts, &self.mount)?;
        if let Some(idle) = &self.idle_stop {
            keys::idle_stop("idle_stop", idle)?;
        }
        if let Some(build) = &self.build {
            build.validate()?;
        }
        self.resources.validate()
    }

    /// Every container port to publish, one entry per port (ranges expanded).
    pub fn container_ports(&self) -> BTreeMap<String, u16> {
        keys::expand_ports(&self.ports).expect("validated when parsed")
    }

    /// The notebook's environment variables: the env file's, then `[env]` (which wins).
    pub fn environment(&self, folder: &Path) -> Result<Vec<(String, String)>> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        if let Some(file) = &self.env_file {
            vars.extend(crate::manifest::dotenv::read(&folder.join(file))?);
        }
        vars.extend(self.env.clone());
        Ok(vars.into_iter().collect())
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

/// `[HOST[:PORT]/]path/components`, as Docker's reference grammar allows (no tag: jenv adds tags).
fn is_valid_repository(repository: &str) -> bool {
    let path = match crate::engine::registry::host_of(repository) {
        Some(host) => {
            let (name, port) = host.split_once(':').unwrap_or((host, "0"));
            let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !name_ok || port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                return false;
            }
            &repository[host.len() + 1..]
        }
        None => repository,
    };
    !path.is_empty()
        && path.split('/').all(|part| {
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
    find(start)?.ok_or_else(|| not_found(start))
}

/// Like [`discover`], but no manifest anywhere above `start` is `None`, not an error.
pub fn find(start: &Path) -> Result<Option<Project>> {
    for folder in start.ancestors() {
        let path = folder.join(FILE_NAME);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let manifest = Manifest::parse(&text, &path)?;
                return Ok(Some(Project { folder: folder.to_path_buf(), manifest, text }));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(None)
}

/// The error for a folder with no manifest in it or above it.
pub fn not_found(start: &Path) -> anyhow::Error {
    Hinted::new(
        format!("no {FILE_NAME} found in {} or any parent folder", start.display()),
        "run `jenv init` in your project folder to create one, or `jenv up --init` to create one and start",
    )
    .into()
}

/// A TOML or schema error, pointed at the line it concerns. toml places a missing top-level
/// key at line 1, column 1, which concerns nothing there: such an error names the key alone.
fn not_valid(err: &toml::de::Error, path: &Path) -> anyhow::Error {
    let missing = err.message().strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
    let positionless = err.span().is_none_or(|span| span.is_empty() && span.start == 0);
    let message = match missing {
        Some(key) if positionless => format!("{} is not a valid manifest: `{key}` is missing", path.display()),
        _ => format!("{} is not a valid manifest:\n{err}", path.display()),
    };
    let hint = match missing {
        Some(key) => format!("add {}", example_line(key)),
        None => format!("fix the file, or recreate it with `jenv init --force` in {}", parent(path)),
    };
    Hinted::new(message, hint).into()
}

/// What to write for a required key.
fn example_line(key: &str) -> String {
    match key {
        "source" => "`source = \"~/datasets\"` (the host folder) to that [[mounts]]".to_string(),
        "target" => "`target = \"/data\"` (where it appears in the container) to that [[mounts]]".to_string(),
        other => format!("`{other} = …` (docs/manifest.md lists the keys)"),
    }
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
    fn repositories_may_name_their_registry() {
        for good in
            ["jenv/x", "registry.example.org:5000/team/analysis", "127.0.0.1:5000/a", "localhost/x", "quay.io/u/x"]
        {
            assert!(is_valid_repository(good), "{good}");
        }
        for bad in ["", "Jenv/x", "host:port/x", "reg.io:5000/", "reg.io/x:tag", "x//y", "-x/y"] {
            assert!(!is_valid_repository(bad), "{bad}");
        }
    }

    #[test]
    fn init_defaults_round_trip() {
        let text = sample();
        let manifest = Manifest::parse(&text, Path::new("/x/.jupyter-env")).unwrap();
        assert_eq!(manifest.image, DEFAULT_IMAGE);
        assert_eq!(manifest.mount, DEFAULT_MOUNT);
        assert_eq!(manifest.ports, BTreeMap::from([("jupyter".to_string(), PortSpec::One(8888))]));
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
        assert!(format!("{err:#}").contains("no single `jupyter` port"));
    }

    const RICH: &str = r#"
ui = "lab"
env_file = ".env"

[ports]
spark-ui = "4040-4042"

[env]
MODE = "dev"

[[mounts]]
source = "~/datasets"
target = "/data"

[[mounts]]
source = "out"
target = "/out"
read_only = false

[resources]
memory = "8g"
cpus = 2.5
shm_size = "1g"
gpus = ["0", "1"]
"#;

    /// A minimal manifest plus `extra`: its top-level keys, then its tables (`jupyter` added to [ports]).
    fn with(extra: &str) -> Result<Manifest> {
        let (top, tables) = extra.split_at(extra.find('[').unwrap_or(extra.len()));
        let ports = if tables.contains("[ports]") { "" } else { "[ports]\njupyter = 8888\n" };
        let tables = tables.replace("[ports]\n", "[ports]\njupyter = 8888\n");
        let text = format!("name = \"x\"\nimage = \"i\"\nrepository = \"jenv/x\"\n{top}\n{ports}{tables}");
        Manifest::parse(&text, Path::new("/p/.jupyter-env"))
    }

    #[test]
    fn docker_run_keys_parse_and_round_trip() {
        let manifest = with(RICH).unwrap();
        assert_eq!(manifest.ui, Some(JupyterUi::Lab));
        assert_eq!(manifest.env["MODE"], "dev");
        assert_eq!(manifest.mounts.len(), 2);
        assert!(manifest.mounts[0].read_only, "extra mounts are read-only by default");
        assert!(!manifest.mounts[1].read_only);
        assert_eq!(manifest.resources.gpus, Some(keys::Gpus::Devices(vec!["0".into(), "1".into()])));
        let ports: Vec<String> = manifest.container_ports().keys().cloned().collect();
        assert_eq!(ports, ["jupyter", "spark-ui/4040", "spark-ui/4041", "spark-ui/4042"]);
        let again = Manifest::parse(&manifest.to_toml(), Path::new("/p/m")).unwrap();
        assert_eq!(again, manifest);
    }

    #[test]
    fn bad_docker_run_keys_say_what_is_wrong() {
        for (extra, expected) in [
            ("ui = \"jupyterlab\"\n", "unknown variant `jupyterlab`"),
            ("[resources]\nmemory = \"lots\"\n", "`memory = \"lots\"` is not a size"),
            ("[resources]\ncpus = -1\n", "`cpus = -1` is not a CPU count"),
            ("[resources]\ngpus = \"some\"\n", "`gpus = \"some\"` is not a GPU request"),
            ("[resources]\nswap = \"1g\"\n", "unknown field `swap`"),
            ("[env]\nJUPYTER_TOKEN = \"x\"\n", "`JUPYTER_TOKEN` is set by jenv"),
            ("[env]\nPORT = 5432\n", "invalid type: integer"),
            ("[[mounts]]\nsource = \"d\"\ntarget = \"rel\"\n", "`target = \"rel\"` is not an absolute container path"),
            ("[[mounts]]\nsource = \"d\"\ntarget = \"/home/jovyan/work/d\"\n", "overlaps `/home/jovyan/work`"),
            ("[[mounts]]\nsource = \"d\"\n", "missing field `target`"),
        ] {
            let err = with(extra).unwrap_err();
            let text = format!("{err:#}");
            let hint = err.chain().find_map(|e| e.downcast_ref::<Hinted>()).map(|h| h.hint.clone());
            assert!(text.contains(expected), "{extra}: {text}");
            assert!(text.contains("/p/.jupyter-env"), "names the file: {text}");
            assert!(hint.is_some_and(|h| !h.is_empty()), "{extra}: says what to do");
        }
        let range = sample().replace("jupyter = 8888", "jupyter = 8888\nspark-ui = \"4042-4040\"");
        let err = Manifest::parse(&range, Path::new("/p/.jupyter-env")).unwrap_err();
        assert!(format!("{err:#}").contains("`spark-ui = \"4042-4040\"` is not a port range"), "{err:#}");
    }

    /// The error's text (with its causes) and its hint.
    fn refusal(result: Result<Manifest>) -> (String, String) {
        let err = result.unwrap_err();
        let hint = err.chain().find_map(|e| e.downcast_ref::<Hinted>()).map(|h| h.hint.clone());
        (format!("{err:#}"), hint.unwrap_or_default())
    }

    #[test]
    fn every_key_left_out_has_its_documented_default() {
        let path = Path::new("/home/ana/analysis/.jupyter-env");
        let written = Manifest::for_folder(Path::new("/home/ana/analysis"), InitOptions::default()).unwrap();
        assert_eq!(Manifest::parse("", path).unwrap(), written, "an empty manifest is what `jenv init` writes");
        let no_repository = sample().lines().filter(|l| !l.starts_with("repository")).collect::<Vec<_>>().join("\n");
        assert_eq!(Manifest::parse(&no_repository, path).unwrap(), written);
        let named = Manifest::parse("name = \"mine\"\nmount = \"/home/jovyan/mine\"\n", path).unwrap();
        assert_eq!((named.repository.as_str(), named.mount.as_str()), ("jenv/mine", "/home/jovyan/mine"));
        assert_eq!((named.image.as_str(), &named.ports), (DEFAULT_IMAGE, &default_ports()));
    }

    #[test]
    fn mounts_in_or_over_system_folders_are_refused_naming_the_key() {
        let system = ["/", "/etc", "/etc/jupyter", "//etc/", "/home/jovyan/../../etc", "/usr/local/data", "/lib64"];
        let runtime = ["/tmp", "/tmp/", crate::state::run_env::TARGET, crate::notebook::jupyter_config::TARGET];
        for target in system.into_iter().chain(runtime).chain(["/bin", "/boot", "/dev", "/proc", "/run", "/sbin"]) {
            let (text, hint) = refusal(with(&format!("mount = \"{target}\"\n")));
            assert!(text.contains(&format!("`mount = \"{target}\"` ")), "{text}");
            assert!(hint.contains("`mount = \"/home/jovyan/work\"`"), "{hint}");
            let (text, hint) = refusal(with(&format!("[[mounts]]\nsource = \"d\"\ntarget = \"{target}\"\n")));
            assert!(text.contains(&format!("[[mounts]] `target = \"{target}\"` ")), "{text}");
            assert!(hint.contains("`target = \"/data\"`"), "{hint}");
        }
        let (text, _) = refusal(with("mount = \"/etc\"\n"));
        assert!(text.ends_with("`mount = \"/etc\"` lies over `/etc`, one of the image's system folders"), "{text}");
        let (text, _) = refusal(with("mount = \"/tmp/x\"\n"));
        assert!(text.contains("lies in `/tmp`, the tmpfs where jenv keeps its runtime files"), "{text}");
        assert!(refusal(with("mount = \"/\"\n")).0.contains("would cover the whole container"));
        for fine in [
            "/home/ana/work",
            "/home/jovyan",
            "/data",
            "/srv/data/",
            "/opt/x",
            "/mnt/a/../b",
            "/workspace",
            "/library",
            "/libraries/x",
        ] {
            with(&format!("mount = \"{fine}\"\n")).unwrap_or_else(|e| panic!("{fine}: {e:#}"));
            with(&format!("mount = \"/w\"\n[[mounts]]\nsource = \"d\"\ntarget = \"{fine}\"\n"))
                .unwrap_or_else(|e| panic!("{fine}: {e:#}"));
        }
    }

    #[test]
    fn two_mounts_on_one_target_are_refused() {
        let (text, hint) = refusal(with("[[mounts]]\nsource = \"d\"\ntarget = \"/home/jovyan/work/\"\n"));
        assert!(
            text.contains("two mounts on `/home/jovyan/work`: `mount = \"/home/jovyan/work\"` and [[mounts]] `target = \"/home/jovyan/work/\"`"),
            "{text}"
        );
        assert!(hint.contains("`target = \"/data\"`"), "{hint}");
        let twice =
            "[[mounts]]\nsource = \"a\"\ntarget = \"/data\"\n\n[[mounts]]\nsource = \"b\"\ntarget = \"/data/.\"\n";
        let (text, _) = refusal(with(twice));
        assert!(
            text.contains(
                "two mounts on `/data`: [[mounts]] `target = \"/data\"` and [[mounts]] `target = \"/data/.\"`"
            ),
            "{text}"
        );
    }

    #[test]
    fn parse_errors_point_at_the_line_they_concern() {
        let path = Path::new("/p/.jupyter-env");
        let (text, _) = refusal(Manifest::parse("name = \"x\"\n\ncolour = \"red\"\n", path));
        assert!(text.contains("line 3, column 1") && text.contains("unknown field `colour`"), "{text}");
        let (text, _) = refusal(Manifest::parse("name = \"x\"\nmount = 3\n", path));
        assert!(text.contains("line 2, column 9") && text.contains("invalid type: integer `3`"), "{text}");
        let (text, hint) = refusal(Manifest::parse("name = \"x\"\n\n[[mounts]]\nsource = \"d\"\n", path));
        assert!(text.contains("line 3, column 1") && text.contains("missing field `target`"), "{text}");
        assert!(hint.contains("add `target = \"/data\"`"), "{hint}");
        // A missing key at the top has no line: the error names the key, not line 1, column 1.
        let err = toml::from_str::<MountSpec>("source = \"d\"\n").unwrap_err();
        let (text, hint) = refusal(Err(not_valid(&err, path)));
        assert_eq!(text, "/p/.jupyter-env is not a valid manifest: `target` is missing");
        assert!(hint.starts_with("add `target = \"/data\"`"), "{hint}");
    }

    #[test]
    fn the_environment_merges_the_env_file_under_env() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".env"), "MODE=prod\nAPI_KEY=s3cret\n").unwrap();
        let manifest = with(RICH).unwrap();
        let env = manifest.environment(dir.path()).unwrap();
        assert_eq!(env, [("API_KEY".to_string(), "s3cret".to_string()), ("MODE".to_string(), "dev".to_string())]);
        let err = manifest.environment(Path::new("/nonexistent")).unwrap_err();
        assert!(format!("{err}").contains("cannot read the env file /nonexistent/.env"), "{err}");
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
