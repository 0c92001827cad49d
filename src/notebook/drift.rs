//! Whether a running container still matches its manifest. Each container carries, as a label,
//! a fingerprint of the settings it was created with; comparing it with the manifest's today
//! names what changed. The label holds environment variable *names* only, never anything derived
//! from a value (a hash of a short secret can be guessed); values are compared with jenv's own
//! 0600 copy of what the container was started with (`runtime/NAME.json`, see state/run_env.rs).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::manifest::Manifest;

/// Setting name -> a comparable rendering of its value.
pub type Fingerprint = BTreeMap<String, String>;

/// The settings of `manifest` that shape a container, with the env values it resolves to and
/// the host paths its extra mounts resolve to.
pub fn fingerprint(
    manifest: &Manifest,
    env: &[(String, String)],
    mount_sources: &[PathBuf],
    idle_stop: Option<u64>,
) -> Fingerprint {
    let mut print = Fingerprint::new();
    print.insert("image".into(), manifest.image.clone());
    print.insert("mount".into(), manifest.mount.clone());
    let ports: Vec<String> = manifest.container_ports().iter().map(|(name, port)| format!("{name}={port}")).collect();
    print.insert("ports".into(), ports.join(","));
    if let Some(ui) = manifest.ui {
        print.insert("ui".into(), ui.path().into());
    }
    if let Some(secs) = idle_stop {
        print.insert("idle_stop".into(), format!("{secs}s"));
    }
    for (name, _) in env {
        print.insert(format!("env {name}"), "set".into());
    }
    for (mount, source) in manifest.mounts.iter().zip(mount_sources) {
        let mode = if mount.read_only { "ro" } else { "rw" };
        print.insert(format!("mount {}", mount.target), format!("{}:{mode}", source.display()));
    }
    let resources = &manifest.resources;
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            print.insert(format!("resources.{key}"), value);
        }
    };
    put("memory", resources.memory.clone());
    put("cpus", resources.cpus.map(|c| c.to_string()));
    put("shm_size", resources.shm_size.clone());
    // Debug text on purpose: it is stored in the container's label, never shown, and any other
    // spelling would make every existing GPU notebook look changed.
    put("gpus", resources.gpus.as_ref().map(|g| format!("{g:?}")));
    print
}

/// The settings that differ between what a container was created with and the manifest now,
/// by name (`env API_KEY`, `resources.memory`, `mount /data`, ...). `started_with` holds the
/// variables the container was started with, to compare `env` values by.
pub fn differences(
    created: &Fingerprint,
    now: &Fingerprint,
    started_with: &BTreeMap<String, String>,
    env: &[(String, String)],
) -> Vec<String> {
    let changed_values = env
        .iter()
        .filter(|(name, value)| started_with.get(name).is_some_and(|old| old != value))
        .map(|(name, _)| format!("env {name}"));
    let mut names: Vec<String> = created
        .keys()
        .chain(now.keys())
        .filter(|key| created.get(*key) != now.get(*key))
        .cloned()
        .chain(changed_values)
        .collect();
    names.sort();
    names.dedup();
    names
}

pub fn to_label(print: &Fingerprint) -> String {
    serde_json::to_string(print).expect("strings serialize")
}

/// A label written by an older jenv (or none) reads as `None`: nothing to compare.
pub fn from_label(text: &str) -> Option<Fingerprint> {
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::InitOptions;

    fn manifest() -> Manifest {
        Manifest::for_folder(std::path::Path::new("/p/x"), InitOptions::default()).unwrap()
    }

    #[test]
    fn names_what_changed_without_values() {
        let env = vec![("API_KEY".to_string(), "secret-one".to_string())];
        let started_with: BTreeMap<String, String> = env.iter().cloned().collect();
        let before = fingerprint(&manifest(), &env, &[], None);
        assert!(differences(&before, &fingerprint(&manifest(), &env, &[], None), &started_with, &env).is_empty());
        assert_eq!(
            to_label(&before),
            to_label(&fingerprint(&manifest(), &[("API_KEY".into(), "x".into())], &[], None))
        );

        let mut changed = manifest();
        changed.resources.memory = Some("8g".into());
        changed.image = "other:1".into();
        let env2 = vec![("API_KEY".to_string(), "secret-two".to_string()), ("NEW".to_string(), "1".to_string())];
        let after = fingerprint(&changed, &env2, &[], None);
        assert_eq!(
            differences(&before, &after, &started_with, &env2),
            ["env API_KEY", "env NEW", "image", "resources.memory"]
        );
    }

    #[test]
    fn labels_round_trip_and_old_labels_are_ignored() {
        let print = fingerprint(&manifest(), &[], &[], None);
        assert_eq!(from_label(&to_label(&print)), Some(print));
        assert_eq!(from_label(""), None);
    }
}
