//! The manifest keys people put on `docker run`: environment, extra mounts, resources, the UI
//! and port ranges. Their schema and validation live here; `manifest/mod.rs` holds them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::engine::types::GpuRequest;
use crate::error::{Hinted, hinted};

/// Most container ports one range may publish.
const MAX_RANGE_PORTS: usize = 32;
/// Variables jenv sets itself: the token, the host user mapping and where Jupyter keeps its files.
const RESERVED_ENV: &[&str] = &[
    "JUPYTER_TOKEN",
    "NB_USER",
    "NB_UID",
    "NB_GID",
    "CHOWN_HOME",
    "HOME",
    "JUPYTER_RUNTIME_DIR",
    "JUPYTER_CONFIG_PATH",
];

/// A container port, or a range of them (`"4040-4042"`), each published on its own host port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    One(u16),
    Range(String),
}

impl PortSpec {
    /// The container ports this spec publishes.
    pub fn container_ports(&self, name: &str) -> Result<Vec<u16>> {
        match self {
            PortSpec::One(0) => {
                hinted!("port `{name}` is 0"; "give a container port between 1 and 65535")
            }
            PortSpec::One(port) => Ok(vec![*port]),
            PortSpec::Range(text) => {
                let parsed = text
                    .split_once('-')
                    .and_then(|(low, high)| Some((low.trim().parse::<u16>().ok()?, high.trim().parse::<u16>().ok()?)));
                match parsed {
                    Some((low, high)) if low > 0 && low <= high && usize::from(high - low) < MAX_RANGE_PORTS => {
                        Ok((low..=high).collect())
                    }
                    _ => hinted!(
                        "port `{name} = \"{text}\"` is not a port range";
                        format!(
                            "write a port (`{name} = 4040`) or a range of at most {MAX_RANGE_PORTS} ports (`{name} = \"4040-4042\"`)"
                        )
                    ),
                }
            }
        }
    }
}

/// Named ports expanded to one entry per container port: a single port keeps its name, each
/// port of a range is `NAME/PORT` (e.g. `spark-ui/4041`).
pub fn expand_ports(ports: &BTreeMap<String, PortSpec>) -> Result<BTreeMap<String, u16>> {
    let mut expanded = BTreeMap::new();
    for (name, spec) in ports {
        match spec {
            PortSpec::One(_) => {
                expanded.insert(name.clone(), spec.container_ports(name)?[0]);
            }
            PortSpec::Range(_) => {
                for port in spec.container_ports(name)? {
                    expanded.insert(format!("{name}/{port}"), port);
                }
            }
        }
    }
    Ok(expanded)
}

/// The shortest `idle_stop`: Jupyter looks for idleness once a minute.
pub const MIN_IDLE_STOP_SECS: u64 = 60;

/// Seconds in a duration written `90s`, `30m`, `2h` or `1d` (a plain number is seconds).
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// `idle_stop` (in the manifest or the user config, named by `key`) in seconds, `None` for
/// `"off"`: a duration of at least a minute.
pub fn idle_stop(key: &str, text: &str) -> Result<Option<u64>> {
    if matches!(text.trim(), "off" | "never") {
        return Ok(None);
    }
    match parse_duration(text) {
        Some(secs) if secs >= MIN_IDLE_STOP_SECS => Ok(Some(secs)),
        Some(_) => hinted!(
            "`{key} = \"{text}\"` is shorter than a minute";
            format!("Jupyter checks for idleness once a minute: give at least `\"1m\"`, e.g. `{key} = \"2h\"`")
        ),
        None => hinted!(
            "`{key} = \"{text}\"` is not a duration";
            format!("write a number with a unit, e.g. `{key} = \"90m\"` or `\"2h\"` (s, m, h, d), or `\"off\"`")
        ),
    }
}

/// An extra bind mount, e.g. a read-only data folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// Relative to the project folder; `~` is the user's home.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    #[serde(default = "read_only_default")]
    pub read_only: bool,
}

fn read_only_default() -> bool {
    true
}

impl MountSpec {
    /// The source as an absolute host path.
    pub fn source_path(&self, folder: &Path) -> PathBuf {
        let expanded = match self.source.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
                home.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(&self.source),
        };
        folder.join(expanded)
    }

    /// The source must exist before anything starts: the engine would create an empty folder.
    pub fn resolve(&self, folder: &Path) -> Result<PathBuf> {
        let path = self.source_path(folder);
        match path.canonicalize() {
            Ok(path) => Ok(path),
            Err(err) => hinted!(
                "the mount source `{}` ({}) cannot be used: {err}",
                self.source,
                path.display();
                "create it, or fix `source` under [[mounts]] in .jupyter-env"
            ),
        }
    }
}

/// Top-level container folders no mount may lie in or over: the image's own system folders
/// (every `/lib*` a Linux image has, but not a `/library` of the user's), and `/tmp`, the tmpfs
/// where jenv keeps its runtime files (`runenv::TARGET`, `jupyter_config::TARGET`,
/// Jupyter's runtime folder).
const SYSTEM_FOLDERS: &[&str] = &[
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys", "tmp", "usr", "var",
];

/// An absolute container path as the engine reads it: `.`, `..`, repeated and trailing slashes
/// resolved (`/home/jovyan/../../etc/` is `/etc`). `None` for a relative path.
pub fn normalize_target(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Why a mount cannot go at `target` (normalized): it is `/`, or lies in a system folder.
fn forbidden_place(target: &str) -> Option<String> {
    let top = target.trim_start_matches('/').split('/').next().unwrap_or_default();
    if top.is_empty() {
        return Some("would cover the whole container".to_string());
    }
    let system = SYSTEM_FOLDERS.contains(&top);
    let place = if target.len() == top.len() + 1 { "over" } else { "in" };
    match top {
        "tmp" => Some(format!("lies {place} `/tmp`, the tmpfs where jenv keeps its runtime files")),
        _ if system => Some(format!("lies {place} `/{top}`, one of the image's system folders")),
        _ => None,
    }
}

/// Checks where the folder (`mount`) and the extra mounts (`[[mounts]]` targets) go: absolute,
/// not `/` nor in a system folder, and none in, over or on another.
pub fn validate_mounts(mounts: &[MountSpec], main_mount: &str) -> Result<()> {
    let main_example = format!("mount = \"{}\"", crate::manifest::DEFAULT_MOUNT);
    let main_key = format!("`mount = \"{main_mount}\"`");
    let main = checked_target(main_mount, &main_key, &main_example)?;
    let mut targets = vec![(main, main_key)];
    for mount in mounts {
        let key = format!("[[mounts]] `target = \"{}\"`", mount.target);
        let target = checked_target(&mount.target, &key, "target = \"/data\"")?;
        if mount.source.trim().is_empty() {
            hinted!(
                "a mount for `{}` has no source",
                mount.target;
                "name a host folder, e.g. `source = \"~/datasets\"`"
            );
        }
        if let Some((_, other)) = targets.iter().find(|(t, _)| *t == target) {
            hinted!(
                "two mounts on `{target}`: {other} and {key}";
                "give each mount its own place, e.g. `target = \"/data\"`"
            );
        }
        if let Some((other, _)) = targets.iter().find(|(t, _)| nested(t, &target)) {
            hinted!(
                "{key} overlaps `{other}`, which is already mounted";
                "give each mount its own place, outside the others, e.g. `target = \"/data\"`"
            );
        }
        targets.push((target, key));
    }
    Ok(())
}

/// The normalized target, or why no mount can go there; `key` is how the error names it.
fn checked_target(value: &str, key: &str, example: &str) -> Result<String> {
    let Some(target) = normalize_target(value) else {
        hinted!("{key} is not an absolute container path"; format!("use an absolute container path, e.g. `{example}`"));
    };
    if let Some(why) = forbidden_place(&target) {
        hinted!("{key} {why}"; format!("mount it under a home or data folder, e.g. `{example}`"));
    }
    Ok(target)
}

fn nested(a: &str, b: &str) -> bool {
    let inside = |inner: &str, outer: &str| inner.starts_with(&format!("{outer}/"));
    inside(a, b) || inside(b, a)
}

/// Limits and devices, as on `docker run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// `--memory`, e.g. `"8g"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `--cpus`, e.g. `2.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// `--shm-size`, e.g. `"1g"` (PyTorch data loaders need more than the 64 MB default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// `--gpus`: `"all"`, a count, or device IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Gpus>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(memory) = &self.memory {
            parse_bytes("memory", memory)?;
        }
        if let Some(shm) = &self.shm_size {
            parse_bytes("shm_size", shm)?;
        }
        if let Some(cpus) = self.cpus
            && !(cpus.is_finite() && cpus > 0.0)
        {
            hinted!("`cpus = {cpus}` is not a CPU count"; "give a positive number of CPUs, e.g. `cpus = 2.5`");
        }
        if let Some(gpus) = &self.gpus {
            gpus.validate()?;
        }
        Ok(())
    }

    /// `cpus` as the engine's nano-CPUs.
    pub fn nano_cpus(&self) -> Option<i64> {
        self.cpus.map(|c| (c * 1e9).round() as i64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gpus {
    Count(u32),
    Devices(Vec<String>),
    /// Only `"all"`.
    All(String),
}

impl Gpus {
    fn validate(&self) -> Result<()> {
        match self {
            Gpus::All(word) if word != "all" => hinted!(
                "`gpus = \"{word}\"` is not a GPU request";
                "write `gpus = \"all\"`, a count (`gpus = 2`) or device IDs (`gpus = [\"0\", \"1\"]`)"
            ),
            Gpus::Count(0) => hinted!("`gpus = 0` requests no GPU"; "leave `gpus` out for no GPU"),
            Gpus::Devices(ids) if ids.is_empty() || ids.iter().any(|id| id.trim().is_empty()) => {
                hinted!("`gpus` lists an empty device ID"; "list device IDs, e.g. `gpus = [\"0\", \"1\"]`")
            }
            _ => Ok(()),
        }
    }

    /// The GPUs to ask the engine for.
    pub fn request(&self) -> GpuRequest {
        match self {
            Gpus::All(_) => GpuRequest::All,
            Gpus::Count(n) => GpuRequest::Count(*n),
            Gpus::Devices(ids) => GpuRequest::Devices(ids.clone()),
        }
    }
}

/// Which Jupyter UI the printed URL opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JupyterUi {
    Lab,
    Notebook,
}

impl JupyterUi {
    /// The URL path that opens this UI.
    pub fn path(self) -> &'static str {
        match self {
            JupyterUi::Lab => "lab",
            JupyterUi::Notebook => "tree",
        }
    }
}

/// Sizes as `docker run` reads them: a number of bytes, or with `k`, `m`, `g`, `t` (powers of
/// 1024), optionally followed by `b`: `"8g"`, `"512mb"`, `"1G"`.
pub fn parse_bytes(key: &str, text: &str) -> Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let number_end = lower.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(lower.len());
    let (number, unit) = lower.split_at(number_end);
    let scale: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => 0,
    };
    match number.parse::<f64>() {
        Ok(value) if scale > 0 && value > 0.0 && value.is_finite() => Ok((value * scale as f64) as i64),
        _ => Err(Hinted::new(
            format!("`{key} = \"{text}\"` is not a size"),
            format!("write a size like `{key} = \"8g\"` (units b, k, m, g, t)"),
        )
        .into()),
    }
}

/// Environment variable names: letters, digits and `_`, not starting with a digit; not one jenv sets.
pub fn validate_env_name(name: &str, origin: &str) -> Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        hinted!("{origin}: `{name}` is not a variable name"; "use letters, digits and `_`, not starting with a digit");
    }
    if RESERVED_ENV.contains(&name) {
        hinted!(
            "{origin}: `{name}` is set by jenv and cannot be overridden";
            "remove it: jenv sets the token, your user mapping and Jupyter's folders itself"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(result: Result<impl std::fmt::Debug>) -> String {
        let err = result.unwrap_err();
        let hint = err.downcast_ref::<Hinted>().map(|h| h.hint.clone()).unwrap_or_default();
        format!("{err}\nhint: {hint}")
    }

    #[test]
    fn durations_and_idle_stop() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("45"), Some(45));
        assert_eq!(parse_duration("2 h"), Some(7200));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1.5h"), None);
        assert_eq!(parse_duration("-5m"), None);
        assert_eq!(idle_stop("idle_stop", "2h").unwrap(), Some(7200));
        assert_eq!(idle_stop("idle_stop", "off").unwrap(), None);
        assert!(err(idle_stop("idle_stop", "30s")).contains("shorter than a minute"));
        assert!(err(idle_stop("idle_stop", "soon")).contains("not a duration"));
    }

    #[test]
    fn port_ranges_expand_to_one_name_per_port() {
        let ports = BTreeMap::from([
            ("jupyter".to_string(), PortSpec::One(8888)),
            ("spark-ui".to_string(), PortSpec::Range("4040-4042".into())),
        ]);
        let expanded = expand_ports(&ports).unwrap();
        let names: Vec<(&str, u16)> = expanded.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        assert_eq!(
            names,
            [("jupyter", 8888), ("spark-ui/4040", 4040), ("spark-ui/4041", 4041), ("spark-ui/4042", 4042)]
        );
    }

    #[test]
    fn bad_port_ranges_say_how_to_write_one() {
        for bad in ["4042-4040", "0-3", "4040", "a-b", "4040-9999"] {
            let text = err(PortSpec::Range(bad.into()).container_ports("spark-ui"));
            assert!(text.contains(&format!("`spark-ui = \"{bad}\"` is not a port range")), "{text}");
            assert!(text.contains("\"4040-4042\""), "{text}");
        }
        assert!(err(PortSpec::One(0).container_ports("x")).contains("port `x` is 0"));
    }

    #[test]
    fn mounts_must_be_absolute_and_apart() {
        let mount = |target: &str| MountSpec { source: "data".into(), target: target.into(), read_only: true };
        validate_mounts(&[mount("/data"), mount("/models")], "/home/jovyan/work").unwrap();
        let text = err(validate_mounts(&[mount("data")], "/home/jovyan/work"));
        assert!(text.contains("[[mounts]] `target = \"data\"` is not an absolute container path"), "{text}");
        let text = err(validate_mounts(&[], "work"));
        assert!(text.contains("`mount = \"work\"` is not an absolute container path"), "{text}");
        assert!(err(validate_mounts(&[mount("/")], "/w")).contains("would cover the whole container"));
        let text = err(validate_mounts(&[mount("/home/jovyan/work/data")], "/home/jovyan/work"));
        assert!(text.contains("overlaps `/home/jovyan/work`"), "{text}");
        let text = err(validate_mounts(&[mount("/data"), mount("/data/raw")], "/w"));
        assert!(text.contains("`target = \"/data/raw\"` overlaps `/data`"), "{text}");
        let text = err(validate_mounts(&[mount("/data/raw/.."), mount("/data/raw")], "/w"));
        assert!(text.contains("`target = \"/data/raw\"` overlaps `/data`"), "compared normalized: {text}");
        validate_mounts(&[mount("/data"), mount("/data2")], "/w").unwrap();
    }

    #[test]
    fn targets_normalize_as_the_engine_reads_them() {
        for (path, normalized) in [
            ("/", "/"),
            ("//", "/"),
            ("/data/", "/data"),
            ("/a//b/./c", "/a/b/c"),
            ("/home/jovyan/../../etc", "/etc"),
            ("/../..", "/"),
        ] {
            assert_eq!(normalize_target(path).as_deref(), Some(normalized), "{path}");
        }
        assert_eq!(normalize_target("data"), None);
        assert_eq!(normalize_target(""), None);
    }

    #[test]
    fn mount_sources_resolve_against_the_folder_and_home() {
        let mount = |source: &str| MountSpec { source: source.into(), target: "/d".into(), read_only: true };
        assert_eq!(mount("data").source_path(Path::new("/p")), Path::new("/p/data"));
        assert_eq!(mount("/abs").source_path(Path::new("/p")), Path::new("/abs"));
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(mount("~/ds").source_path(Path::new("/p")), home.join("ds"));
        assert_eq!(mount("~x").source_path(Path::new("/p")), Path::new("/p/~x"), "only ~/ is the home");
        let text = err(mount("missing-folder").resolve(Path::new("/nonexistent")));
        assert!(text.contains("the mount source `missing-folder` (/nonexistent/missing-folder)"), "{text}");
    }

    #[test]
    fn sizes_read_like_docker_run() {
        assert_eq!(parse_bytes("memory", "8g").unwrap(), 8 << 30);
        assert_eq!(parse_bytes("memory", "512MB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("memory", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("memory", "1024").unwrap(), 1024);
        for bad in ["", "g", "8x", "-1g", "0"] {
            let text = err(parse_bytes("shm_size", bad));
            assert!(text.contains(&format!("`shm_size = \"{bad}\"` is not a size")), "{text}");
        }
    }

    #[test]
    fn resources_validate_each_key() {
        let ok = Resources {
            memory: Some("8g".into()),
            cpus: Some(2.5),
            shm_size: Some("1g".into()),
            gpus: Some(Gpus::All("all".into())),
        };
        ok.validate().unwrap();
        assert_eq!(ok.nano_cpus(), Some(2_500_000_000));
        let cpus = Resources { cpus: Some(0.0), ..Default::default() };
        assert!(err(cpus.validate()).contains("`cpus = 0` is not a CPU count"));
        let gpus = Resources { gpus: Some(Gpus::All("some".into())), ..Default::default() };
        assert!(err(gpus.validate()).contains("`gpus = \"some\"` is not a GPU request"));
        assert_eq!(Gpus::All("all".into()).request(), GpuRequest::All);
        assert_eq!(Gpus::Count(2).request(), GpuRequest::Count(2));
        assert_eq!(Gpus::Devices(vec!["0".into()]).request(), GpuRequest::Devices(vec!["0".to_string()]));
    }

    #[test]
    fn env_names_are_checked_and_jenvs_own_are_reserved() {
        validate_env_name("DATA_DIR", "[env]").unwrap();
        validate_env_name("_x1", "[env]").unwrap();
        assert!(err(validate_env_name("1X", "[env]")).contains("[env]: `1X` is not a variable name"));
        assert!(err(validate_env_name("A-B", ".env")).contains(".env: `A-B` is not a variable name"));
        assert!(err(validate_env_name("JUPYTER_TOKEN", "[env]")).contains("is set by jenv"));
    }

    #[test]
    fn ui_paths() {
        assert_eq!(JupyterUi::Lab.path(), "lab");
        assert_eq!(JupyterUi::Notebook.path(), "tree");
    }
}
