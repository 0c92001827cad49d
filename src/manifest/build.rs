//! `[build]`: the files the folder's image can be built from when neither a snapshot nor the
//! registry has it (`jenv export` writes them and this table), as compose and devcontainers name
//! them: a Dockerfile and the folder sent to the engine as its build context.

use std::path::{Component, Path};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::error::Hinted;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    /// The Dockerfile, relative to the project folder.
    pub dockerfile: String,
    /// The folder sent to the engine (only it, never the whole project), relative to the project
    /// folder; the Dockerfile's `COPY` sources are relative to it.
    #[serde(default = "default_context")]
    pub context: String,
}

fn default_context() -> String {
    ".".to_string()
}

impl BuildSpec {
    /// The table as `jenv export` appends it to a manifest.
    pub fn to_table(&self) -> String {
        format!("[build]\ndockerfile = {}\ncontext = {}\n", toml_string(&self.dockerfile), toml_string(&self.context))
    }

    /// The Dockerfile's path inside the context (`binder/Dockerfile` in `binder` is `Dockerfile`).
    pub fn dockerfile_in_context(&self) -> String {
        let context = Path::new(&self.context);
        let dockerfile = Path::new(&self.dockerfile);
        let inside = clean(dockerfile).strip_prefix(clean(context)).map(Path::to_path_buf);
        inside.unwrap_or_else(|_| dockerfile.to_path_buf()).to_string_lossy().into_owned()
    }

    pub fn validate(&self) -> Result<()> {
        for (key, value) in [("dockerfile", &self.dockerfile), ("context", &self.context)] {
            let inside = Path::new(value).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if value.trim().is_empty() || !inside {
                return Err(Hinted::new(
                    format!("[build] `{key} = \"{value}\"` is not a path inside the folder"),
                    "give paths relative to the folder, e.g. `dockerfile = \"binder/Dockerfile\"` and `context = \"binder\"`",
                )
                .into());
            }
        }
        if clean(Path::new(&self.dockerfile)).strip_prefix(clean(Path::new(&self.context))).is_err() {
            return Err(Hinted::new(
                format!(
                    "[build] `dockerfile = \"{}\"` is outside `context = \"{}\"`, so the engine would not receive it",
                    self.dockerfile, self.context
                ),
                "put the Dockerfile inside the context folder",
            )
            .into());
        }
        Ok(())
    }
}

/// The path without `.` components (`./binder/.` is `binder`).
fn clean(path: &Path) -> std::path::PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// `text` (a manifest) with its `[build]` table (if any) replaced by `table`, appended at the end:
/// the rest of the text, comments and all, stays as the person wrote it.
pub fn with_table(text: &str, table: &str) -> String {
    let mut kept = String::new();
    let mut in_build = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_build = is_build_header(trimmed);
        }
        if !in_build {
            kept.push_str(line);
        }
    }
    let kept = kept.trim_end();
    if kept.is_empty() { table.to_string() } else { format!("{kept}\n\n{table}") }
}

fn is_build_header(line: &str) -> bool {
    let header = line.split('#').next().unwrap_or_default().trim();
    header.strip_prefix('[').and_then(|h| h.strip_suffix(']')).is_some_and(|name| name.trim() == "build")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dockerfile: &str, context: &str) -> BuildSpec {
        BuildSpec { dockerfile: dockerfile.into(), context: context.into() }
    }

    #[test]
    fn paths_stay_inside_the_folder_and_the_dockerfile_inside_the_context() {
        spec("binder/Dockerfile", "binder").validate().unwrap();
        spec("Dockerfile", ".").validate().unwrap();
        spec("./env/Dockerfile", "env/.").validate().unwrap();
        for (dockerfile, context) in
            [("../Dockerfile", "."), ("/etc/Dockerfile", "/etc"), ("Dockerfile", "binder"), ("", "."), ("d", " ")]
        {
            let err = spec(dockerfile, context).validate().unwrap_err();
            assert!(err.downcast_ref::<Hinted>().is_some(), "{dockerfile} in {context}: {err}");
        }
    }

    #[test]
    fn the_dockerfile_is_named_as_the_context_holds_it() {
        assert_eq!(spec("binder/Dockerfile", "binder").dockerfile_in_context(), "Dockerfile");
        assert_eq!(spec("./env/docker/Dockerfile.gpu", "env").dockerfile_in_context(), "docker/Dockerfile.gpu");
        assert_eq!(spec("Dockerfile", ".").dockerfile_in_context(), "Dockerfile");
    }

    #[test]
    fn the_table_replaces_an_earlier_one_and_keeps_the_rest() {
        let table = spec("binder/Dockerfile", "binder").to_table();
        assert_eq!(table, "[build]\ndockerfile = \"binder/Dockerfile\"\ncontext = \"binder\"\n");
        let manifest = "# mine\nname = \"x\"\n\n[build]  # old\ndockerfile = \"D\"\n\n[ports]\njupyter = 8888\n";
        assert_eq!(with_table(manifest, &table), format!("# mine\nname = \"x\"\n\n[ports]\njupyter = 8888\n\n{table}"));
        assert_eq!(with_table("", &table), table);
        let parsed: toml::Table = toml::from_str(&with_table("name = \"x\"\n", &table)).unwrap();
        assert_eq!(parsed["build"]["context"].as_str(), Some("binder"));
        assert!(!is_build_header("[builds]") && !is_build_header("[[build]]") && is_build_header("[ build ]"));
    }
}
