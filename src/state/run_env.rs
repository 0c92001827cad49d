//! The variables jenv gives a notebook — its token, the user mapping, `[env]` and the env file —
//! reach it through a file, never through the container's config.
//!
//! Why: `docker commit` merges the container's config into the new image, so every variable set
//! on the container (the token, secrets from `.env`) would be baked into each snapshot. Instead
//! the container keeps exactly its image's environment and starts through a one-line wrapper that
//! sources a file jenv mounts read-only inside the tmpfs `/tmp` (not even its mount point reaches
//! a snapshot). Commands jenv runs in the container (`exec`, `shell`, installs) get the same
//! variables, except the token, from the copy jenv keeps in its state folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::state::Sub;
use crate::state::files::{private_dir, read_text, remove_if_exists, write_atomic};

/// Where the variables file is mounted in the container.
pub const TARGET: &str = "/tmp/jenv-env.sh";
/// The variable that carries the notebook's token; only the notebook server needs it.
pub const TOKEN: &str = "JUPYTER_TOKEN";
/// Sources the variables file, then runs the image's own entrypoint and command.
const WRAPPER: &str = "set -a; . /tmp/jenv-env.sh; set +a; exec \"$@\"";

/// An environment's variables file in jenv's state: `runtime/NAME.json` (read back by jenv)
/// and `runtime/NAME.sh` (sourced in the container), both readable by the user alone.
pub struct RunEnv {
    dir: PathBuf,
    name: String,
}

impl RunEnv {
    /// `home` is the state folder the environment belongs to (its `jenv.home` label).
    pub fn new(home: &Path, env_name: &str) -> RunEnv {
        RunEnv { dir: home.join(Sub::Runtime.dir_name()), name: env_name.to_string() }
    }

    /// Writes the variables and returns the shell file to mount at [`TARGET`].
    pub fn write(&self, vars: &[(String, String)]) -> Result<PathBuf> {
        private_dir(&self.dir)?;
        let map: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        write_atomic(&self.path("json"), serde_json::to_string(&map)?.as_bytes())?;
        let script: String = vars.iter().map(|(k, v)| format!("{k}={}\n", shell_quote(v))).collect();
        let sh = self.path("sh");
        write_atomic(&sh, script.as_bytes())?;
        Ok(sh)
    }

    /// The variables, for commands run in the container: without the token.
    pub fn exec_env(&self) -> Result<Vec<(String, String)>> {
        Ok(self.variables()?.into_iter().filter(|(k, _)| k != TOKEN).collect())
    }

    /// The token the notebook was started with, if jenv's copy of its variables is readable.
    pub fn token(&self) -> Option<String> {
        self.variables().ok()?.remove(TOKEN)
    }

    /// Forgets the variables, once their container is gone.
    pub fn remove(&self) -> Result<()> {
        for extension in ["json", "sh"] {
            remove_if_exists(&self.path(extension))?;
        }
        Ok(())
    }

    /// Every variable the container was started with (empty when jenv kept no copy).
    pub fn variables(&self) -> Result<BTreeMap<String, String>> {
        let path = self.path("json");
        // None: a container made before jenv kept this file, or by another user: no variables.
        let Some(text) = read_text(&path)? else { return Ok(BTreeMap::new()) };
        serde_json::from_str(&text).with_context(|| format!("{} is unreadable", path.display()))
    }

    fn path(&self, extension: &str) -> PathBuf {
        self.dir.join(format!("{}.{extension}", self.name))
    }
}

/// The entrypoint that sources the variables, then runs `entrypoint` + `cmd` (the image's own).
pub fn wrapped_entrypoint(entrypoint: &[String], cmd: &[String]) -> Vec<String> {
    ["/bin/sh", "-c", WRAPPER, "jenv-entrypoint"]
        .into_iter()
        .map(str::to_string)
        .chain(entrypoint.iter().cloned())
        .chain(cmd.iter().cloned())
        .collect()
}

/// `value` as one single-quoted shell word.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn variables_round_trip_privately_and_exec_never_gets_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let env = RunEnv::new(dir.path(), "demo");
        let vars =
            [("JUPYTER_TOKEN".to_string(), "abc".to_string()), ("QUOTE".to_string(), "it's $HOME `x`".to_string())];
        let sh = env.write(&vars).unwrap();
        assert_eq!(std::fs::read_to_string(&sh).unwrap(), "JUPYTER_TOKEN='abc'\nQUOTE='it'\\''s $HOME `x`'\n");
        assert_eq!(std::fs::metadata(&sh).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(env.exec_env().unwrap(), [("QUOTE".to_string(), "it's $HOME `x`".to_string())]);
        assert_eq!(env.token().as_deref(), Some("abc"));
        assert_eq!(RunEnv::new(dir.path(), "other").exec_env().unwrap(), Vec::<(String, String)>::new());
        env.remove().unwrap();
        assert!(!sh.exists() && env.token().is_none(), "removed with its container");
        env.remove().unwrap();
    }

    #[test]
    fn the_shell_file_sets_exactly_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let value = "a 'quoted' \"double\" $VAR `cmd` \\ end";
        let sh = RunEnv::new(dir.path(), "x").write(&[("V".to_string(), value.to_string())]).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("set -a; . {}; set +a; printf %s \"$V\"", sh.display())])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
    }

    #[test]
    fn the_wrapper_runs_the_images_own_entrypoint_and_command() {
        let wrapped = wrapped_entrypoint(&["tini".into(), "--".into()], &["start.sh".into()]);
        assert_eq!(wrapped[..2], ["/bin/sh", "-c"]);
        assert_eq!(wrapped[3..], ["jenv-entrypoint", "tini", "--", "start.sh"]);
        assert!(WRAPPER.contains(TARGET));
    }
}
