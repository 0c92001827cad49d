//! The user's own defaults: `config.toml` in the platform's config folder
//! (`~/.config/jenv/config.toml` on Linux), or the file `JENV_CONFIG` names.
//!
//! Precedence, lowest first: jenv's defaults, this file, environment variables
//! (`JENV_DEFAULT_IMAGE`, `JENV_PORT_RANGE`, `JENV_TRUST_ALL`), command-line flags. Parsed as
//! strictly as the manifest: an unknown key is an error, not a silent no-op.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::{Hinted, hinted};
use crate::manifest::keys::JupyterUi;
use crate::state::files::read_optional;
use crate::ui::Console;

/// Host ports jenv leases from when neither `JENV_PORT_RANGE` nor `port_range` says otherwise.
pub const DEFAULT_RANGE: PortRange = PortRange { low: 8888, high: 8999 };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    pub fn parse(text: &str) -> Result<PortRange> {
        let parsed = text
            .split_once('-')
            .and_then(|(low, high)| Some(PortRange { low: low.trim().parse().ok()?, high: high.trim().parse().ok()? }));
        match parsed {
            Some(range) if range.low > 0 && range.low <= range.high => Ok(range),
            _ => hinted!("JENV_PORT_RANGE=`{text}` is not a port range"; "set it like JENV_PORT_RANGE=8888-8999"),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The base image `jenv init` and `jenv up --init` write.
    pub image: Option<String>,
    /// The UI new manifests open.
    pub ui: Option<JupyterUi>,
    /// Host ports jenv leases from, `"LOW-HIGH"`.
    pub port_range: Option<String>,
    /// Skip the trust check for every folder (as `JENV_TRUST_ALL=1`).
    pub trust_all: Option<bool>,
    /// Idleness after which notebooks stop themselves, where their manifest does not say.
    pub idle_stop: Option<String>,
    #[serde(default)]
    pub watch: WatchDefaults,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchDefaults {
    /// Install and snapshot without asking in every folder.
    pub yes: Option<bool>,
}

impl UserConfig {
    /// Where the file is looked for (it need not exist).
    pub fn path() -> Option<PathBuf> {
        match std::env::var_os("JENV_CONFIG") {
            Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => directories::ProjectDirs::from("", "", "jenv").map(|dirs| dirs.config_dir().join("config.toml")),
        }
    }

    /// The file's settings; none when it does not exist. Read once per run, however many parts
    /// of a command ask (trust, ports, the watcher), so a warning about it shows once too.
    pub fn load(console: &Console) -> Result<UserConfig> {
        static LOADED: OnceLock<UserConfig> = OnceLock::new();
        if let Some(config) = LOADED.get() {
            return Ok(config.clone());
        }
        let config = match Self::path() {
            Some(path) => Self::load_from(&path, console)?,
            None => UserConfig::default(),
        };
        Ok(LOADED.get_or_init(|| config).clone())
    }

    fn load_from(path: &Path, console: &Console) -> Result<UserConfig> {
        let text = match read_optional(path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(UserConfig::default()),
            // Another user's HOME (as under `sudo -u` without -H): their config is not ours.
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                console.warn(format_args!("cannot read {} ({err}); using jenv's defaults", path.display()));
                return Ok(UserConfig::default());
            }
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let invalid = |detail: String| {
            Hinted::new(
                format!("{} is not a valid jenv config:\n{detail}", path.display()),
                "fix the file (keys: image, ui, port_range, trust_all, idle_stop, [watch] yes; see docs/config.md), or remove it",
            )
        };
        let config: UserConfig = toml::from_str(&text).map_err(|err| invalid(err.to_string()))?;
        if let Some(range) = &config.port_range {
            PortRange::parse(range).map_err(|_| invalid(format!("port_range = \"{range}\" is not LOW-HIGH")))?;
        }
        if let Some(idle) = &config.idle_stop {
            crate::manifest::keys::idle_stop("idle_stop", idle).map_err(|err| invalid(format!("{err:#}")))?;
        }
        if config.image.as_deref().is_some_and(|image| image.trim().is_empty()) {
            return Err(invalid("image is empty".to_string()).into());
        }
        Ok(config)
    }

    /// `JENV_DEFAULT_IMAGE`, else the file's `image`.
    pub fn default_image(&self) -> Option<String> {
        env("JENV_DEFAULT_IMAGE").or_else(|| self.image.clone())
    }

    /// `JENV_PORT_RANGE`, else the file's `port_range`, else jenv's default range.
    pub fn port_range(&self) -> Result<PortRange> {
        match env("JENV_PORT_RANGE") {
            Some(text) => PortRange::parse(&text),
            None => self.port_range.as_deref().map_or(Ok(DEFAULT_RANGE), PortRange::parse),
        }
    }

    /// `JENV_TRUST_ALL=1` (or `true`/`yes`), else the file's `trust_all`.
    pub fn trust_all(&self) -> bool {
        match env("JENV_TRUST_ALL") {
            Some(value) => matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes"),
            None => self.trust_all.unwrap_or(false),
        }
    }

    /// Seconds of idleness after which a notebook stops itself: the manifest's `idle_stop`,
    /// else this file's; `None` when neither sets it (or it is `"off"`).
    pub fn idle_stop(&self, manifest: Option<&str>) -> Result<Option<u64>> {
        match (manifest, &self.idle_stop) {
            (Some(text), _) => crate::manifest::keys::idle_stop("idle_stop", text),
            (None, Some(text)) => crate::manifest::keys::idle_stop("idle_stop", text),
            (None, None) => Ok(None),
        }
    }

    pub fn watch_yes(&self) -> bool {
        self.watch.yes.unwrap_or(false)
    }
}

/// A variable that is set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// `name` as a whole number of seconds, else `default` (unset, empty or not a number).
pub fn seconds_from_env(name: &str, default: std::time::Duration) -> std::time::Duration {
    number_from_env(name).map(std::time::Duration::from_secs).unwrap_or(default)
}

/// A duration in milliseconds from the variable `name`, else `default`.
pub fn millis_from_env(name: &str, default: std::time::Duration) -> std::time::Duration {
    number_from_env(name).map(std::time::Duration::from_millis).unwrap_or(default)
}

/// A number from the variable `name`; `None` when it is unset or not a number.
pub fn number_from_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_parsing() {
        assert_eq!(PortRange::parse("10000-10010").unwrap(), PortRange { low: 10000, high: 10010 });
        for bad in ["", "10", "10-", "b-c", "20-10", "0-5", "1-70000"] {
            assert!(PortRange::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn load(text: &str) -> Result<UserConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        UserConfig::load_from(&path, &Console::default())
    }

    #[test]
    fn a_missing_file_is_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            UserConfig::load_from(&dir.path().join("none.toml"), &Console::default()).unwrap(),
            UserConfig::default()
        );
    }

    #[test]
    fn every_key_parses() {
        let config = load(
            "image = \"img:1\"\nui = \"notebook\"\nport_range = \"9000-9010\"\ntrust_all = true\n[watch]\nyes = true\n",
        )
        .unwrap();
        assert_eq!(config.image.as_deref(), Some("img:1"));
        assert_eq!(config.ui, Some(JupyterUi::Notebook));
        assert_eq!(config.port_range.as_deref(), Some("9000-9010"));
        assert_eq!(config.trust_all, Some(true));
        assert!(config.watch_yes());
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let text = format!("{:#}", load("imgae = \"x\"\n").unwrap_err());
        assert!(text.contains("is not a valid jenv config") && text.contains("imgae"), "{text}");
        let text = format!("{:#}", load("port_range = \"high-low\"\n").unwrap_err());
        assert!(text.contains("port_range = \"high-low\" is not LOW-HIGH"), "{text}");
        let text = format!("{:#}", load("ui = \"classic\"\n").unwrap_err());
        assert!(text.contains("ui"), "{text}");
    }
}
