//! The labels jenv puts on containers and images: they let the engine answer "which notebooks
//! exist, for which folder" and let a snapshot image say what it is. Every key is named here,
//! and every label jenv writes or reads goes through the types below.

use std::collections::{BTreeMap, HashMap};

use crate::engine::image_config::ImageConfig;
use crate::engine::types::PublishedPort;

/// `true` on a notebook container and on snapshot images; [`HELPER`] on helper containers.
pub const MANAGED: &str = "jenv.managed";
pub const NAME: &str = "jenv.name";
pub const FOLDER: &str = "jenv.folder";
/// The state folder (`JENV_HOME`) that made it, for clean-up by label.
pub const HOME: &str = "jenv.home";
/// `name=container_port:host_port,...`
pub const PORTS: &str = "jenv.ports";
/// The `uid:gid` the notebook runs as; `exec` uses it too.
pub const USER: &str = "jenv.user";
pub const MOUNT: &str = "jenv.mount";
/// The UI the URL opens: `lab` or `tree`.
pub const UI: &str = "jenv.ui";
/// The fingerprint of the manifest settings the container was created with (see
/// `notebook/drift.rs`); the key predates the word.
pub const FINGERPRINT: &str = "jenv.settings";
/// Marks short-lived helper containers (`jenv.managed=helper`), never listed as notebooks.
pub const HELPER: &str = "helper";
/// On snapshot images: the tag, creation time (unix seconds) and message.
pub const SNAPSHOT_TAG: &str = "jenv.snapshot.tag";
pub const SNAPSHOT_CREATED: &str = "jenv.snapshot.created";
pub const SNAPSHOT_MESSAGE: &str = "jenv.snapshot.message";
/// On snapshot images: the `.jupyter-env.lock` record of what the image holds.
pub const RECORD: &str = "jenv.record";
/// What only a running container means; blanked on the images committed from it.
pub const CONTAINER_ONLY: [&str; 5] = [PORTS, USER, MOUNT, UI, FINGERPRINT];
/// Labels that hold this machine's paths: blanked on every image a push sends.
pub const HOST: [&str; 2] = [FOLDER, HOME];

/// The labels of a notebook container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLabels {
    pub name: String,
    pub folder: String,
    pub home: String,
    pub ports: BTreeMap<String, PublishedPort>,
    pub user: String,
    pub mount: String,
    pub ui: String,
    pub fingerprint: String,
}

impl ContainerLabels {
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            (MANAGED.to_string(), "true".to_string()),
            (NAME.to_string(), self.name.clone()),
            (FOLDER.to_string(), self.folder.clone()),
            (HOME.to_string(), self.home.clone()),
            (PORTS.to_string(), ports_label(&self.ports)),
            (USER.to_string(), self.user.clone()),
            (MOUNT.to_string(), self.mount.clone()),
            (UI.to_string(), self.ui.clone()),
            (FINGERPRINT.to_string(), self.fingerprint.clone()),
        ])
    }

    /// `None` without a name: not a notebook container. Other missing labels read as empty.
    pub fn from_map(labels: &HashMap<String, String>) -> Option<ContainerLabels> {
        let get = |key: &str| labels.get(key).cloned().unwrap_or_default();
        Some(ContainerLabels {
            name: labels.get(NAME)?.clone(),
            folder: get(FOLDER),
            home: get(HOME),
            ports: parse_ports_label(&get(PORTS)),
            user: get(USER),
            mount: get(MOUNT),
            ui: get(UI),
            fingerprint: get(FINGERPRINT),
        })
    }
}

/// The labels of a snapshot image. Read back, a missing label reads as empty (or 0), and an
/// empty record as none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotLabels {
    /// The notebook it was taken of.
    pub name: String,
    /// The state folder that made it (blanked by `jenv push`).
    pub home: String,
    pub tag: String,
    /// Unix seconds.
    pub created: u64,
    pub message: String,
    /// The record of what the image holds (`.jupyter-env.lock`'s text), so that a pulled
    /// snapshot says what it holds.
    pub record: Option<String>,
}

impl SnapshotLabels {
    pub fn from_map(labels: &HashMap<String, String>) -> SnapshotLabels {
        let get = |key: &str| labels.get(key).cloned().unwrap_or_default();
        SnapshotLabels {
            name: get(NAME),
            home: get(HOME),
            tag: get(SNAPSHOT_TAG),
            created: labels.get(SNAPSHOT_CREATED).and_then(|s| s.parse().ok()).unwrap_or(0),
            message: get(SNAPSHOT_MESSAGE),
            record: labels.get(RECORD).filter(|text| !text.is_empty()).cloned(),
        }
    }

    /// Puts these labels on the config a snapshot is committed with. The engine merges the
    /// container's labels into a commit: the container-only ones are blanked, so no run-time
    /// detail (ports, user, settings) is kept in the image, and so is the folder, which nothing
    /// reads from an image (history goes by name and repository).
    pub fn apply(&self, config: &mut ImageConfig) {
        let labels = config.labels_mut();
        labels.insert(MANAGED.into(), "true".into());
        labels.insert(NAME.into(), self.name.clone());
        labels.insert(HOME.into(), self.home.clone());
        labels.insert(SNAPSHOT_TAG.into(), self.tag.clone());
        labels.insert(SNAPSHOT_CREATED.into(), self.created.to_string());
        labels.insert(SNAPSHOT_MESSAGE.into(), self.message.clone());
        if let Some(record) = &self.record {
            labels.insert(RECORD.into(), record.clone());
        }
        for key in CONTAINER_ONLY.into_iter().chain([FOLDER]) {
            labels.insert(key.into(), String::new());
        }
    }
}

/// The labels of a short-lived helper container of the state folder `home`: never listed as a
/// notebook, removed by label with the rest of that state folder's containers.
pub fn helper(home: &str) -> HashMap<String, String> {
    HashMap::from([(MANAGED.to_string(), HELPER.to_string()), (HOME.to_string(), home.to_string())])
}

/// Whether an image's labels hold any of this machine's paths ([`HOST`]).
pub fn holds_host_paths(labels: &HashMap<String, String>) -> bool {
    HOST.iter().any(|key| labels.get(*key).is_some_and(|value| !value.is_empty()))
}

/// Every label that must not leave this machine (its paths) or outlive a container, blanked.
pub fn blanked_for_push() -> HashMap<String, String> {
    HOST.iter().chain(&CONTAINER_ONLY).map(|key| (key.to_string(), String::new())).collect()
}

fn ports_label(ports: &BTreeMap<String, PublishedPort>) -> String {
    ports.iter().map(|(name, port)| format!("{name}={}:{}", port.container, port.host)).collect::<Vec<_>>().join(",")
}

fn parse_ports_label(text: &str) -> BTreeMap<String, PublishedPort> {
    text.split(',')
        .filter_map(|item| {
            let (name, pair) = item.split_once('=')?;
            let (container, host) = pair.split_once(':')?;
            Some((name.to_string(), PublishedPort { container: container.parse().ok()?, host: host.parse().ok()? }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(container: u16, host: u16) -> PublishedPort {
        PublishedPort { container, host }
    }

    #[test]
    fn ports_label_round_trips() {
        let ports =
            BTreeMap::from([("jupyter".to_string(), port(8888, 8890)), ("spark".to_string(), port(4040, 4041))]);
        let text = ports_label(&ports);
        assert_eq!(text, "jupyter=8888:8890,spark=4040:4041");
        assert_eq!(parse_ports_label(&text), ports);
    }

    #[test]
    fn malformed_ports_label_items_are_skipped() {
        let parsed = parse_ports_label("jupyter=8888:8890,broken,x=1:notaport,");
        assert_eq!(parsed, BTreeMap::from([("jupyter".to_string(), port(8888, 8890))]));
    }

    #[test]
    fn container_labels_round_trip_and_a_nameless_container_is_none_of_jenvs() {
        let labels = ContainerLabels {
            name: "demo".into(),
            folder: "/p/demo".into(),
            home: "/h".into(),
            ports: BTreeMap::from([("jupyter".to_string(), port(8888, 8890))]),
            user: "1000:100".into(),
            mount: "/home/jovyan/work".into(),
            ui: "tree".into(),
            fingerprint: "{}".into(),
        };
        let map = labels.to_map();
        assert_eq!(map[MANAGED], "true");
        assert_eq!(ContainerLabels::from_map(&map), Some(labels));
        assert_eq!(ContainerLabels::from_map(&HashMap::from([(MANAGED.to_string(), "true".to_string())])), None);
    }

    #[test]
    fn a_snapshot_keeps_its_own_labels_and_blanks_the_containers() {
        let mut config = ImageConfig::default();
        config.labels_mut().extend(
            ContainerLabels::from_map(&HashMap::from([(NAME.to_string(), "demo".to_string())])).unwrap().to_map(),
        );
        let snapshot = SnapshotLabels {
            name: "demo".into(),
            home: "/h".into(),
            tag: "20260101-120000".into(),
            created: 5,
            message: "first".into(),
            record: Some("snapshot = \"20260101-120000\"".into()),
        };
        snapshot.apply(&mut config);
        let labels = config.labels_mut().clone();
        for key in CONTAINER_ONLY.into_iter().chain([FOLDER]) {
            assert_eq!(labels[key], "", "{key}");
        }
        assert_eq!(SnapshotLabels::from_map(&labels), snapshot);
        assert!(holds_host_paths(&labels));
        let mut pushed = labels.clone();
        pushed.extend(blanked_for_push());
        assert!(!holds_host_paths(&pushed));
    }
}
