//! `jenv export`'s files, made from what a snapshot holds (pure: no engine, no disk): a Dockerfile
//! `FROM` the base image that installs what was added by hand, the requirement files it installs,
//! and a devcontainer that builds the same Dockerfile. Also the comparison `jenv export --check`
//! makes between a built image and the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::engine::reference::Reference;
use crate::manifest::build::BuildSpec;
use crate::packages::{self, Installed, Manager};
use crate::snapshot::build::{FILES_ARG, PIP_ARGS, redact};

/// The first line of every file jenv export writes starts with this (after `#` or `//`): the
/// files it may overwrite.
pub const MARKER: &str = "Written by jenv export";
/// Where the files go, relative to the project folder: repo2docker and mybinder build
/// `binder/Dockerfile` as it is.
pub const DEFAULT_DIR: &str = "binder";
pub const DEVCONTAINER: &str = ".devcontainer/devcontainer.json";
const COPIED_TO: &str = "/tmp/jenv-export";
const REQUIREMENTS: &str = "requirements.txt";
const CONDA_PACKAGES: &str = "conda-packages.txt";

/// One pip package the snapshot added, as the Dockerfile installs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    /// Normalised, as the record keys it.
    pub name: String,
    /// `None` when neither the record nor the snapshot's image says (a URL install, image gone).
    pub version: Option<String>,
    /// The file or URL pip installed it from, when it was not an index.
    pub source: Option<String>,
}

/// The base image as the Dockerfile names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// As the record names it, e.g. `quay.io/jupyter/base-notebook:latest`.
    pub reference: String,
    /// `name@sha256:...` for it, when the engine knows one (it was pulled or pushed).
    pub repo_digest: Option<String>,
    /// Its image ID on this engine, when it is here.
    pub id: Option<String>,
}

/// Everything the files are made from.
#[derive(Debug, Clone)]
pub struct ExportInput {
    pub env_name: String,
    pub repository: String,
    pub snapshot: String,
    pub base: Base,
    /// A Jupyter docker-stacks image (`NB_UID` in its environment): install as `${NB_UID}`.
    pub docker_stacks: bool,
    pub pip: Vec<Pin>,
    pub pip_removed: BTreeSet<String>,
    /// name -> version
    pub conda: BTreeMap<String, String>,
    pub conda_removed: BTreeSet<String>,
    /// The container port Jupyter listens on, and where the folder is mounted.
    pub jupyter_port: u16,
    pub mount: String,
    /// The export folder, relative to the project folder.
    pub dir: String,
}

/// The files to write (paths relative to the project folder), the `[build]` table that names
/// them, the `FROM` line's image and what the person should know.
#[derive(Debug, Clone)]
pub struct Export {
    pub files: Vec<(String, String)>,
    pub build: BuildSpec,
    pub from: String,
    pub warnings: Vec<String>,
}

/// Whether `text` is a file jenv export wrote (so it may be written again).
pub fn is_ours(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default().trim_start();
    let comment = first.strip_prefix("//").or_else(|| first.strip_prefix('#'));
    comment.is_some_and(|rest| rest.trim_start().starts_with(MARKER))
}

/// The pip packages of a record (name -> `name==1.0` or `name @ URL`), with the versions of those
/// installed from a file or URL taken from the snapshot's own listing or else the file's name.
pub fn pins(record_pip: &BTreeMap<String, String>, snapshot: Option<&Installed>) -> Vec<Pin> {
    record_pip
        .iter()
        .map(|(name, requirement)| {
            if let Some((_, url)) = requirement.split_once(" @ ") {
                let listed = snapshot.and_then(|s| s.get(&(Manager::Pip, name.clone()))).map(|f| f.version.clone());
                let version = listed.or_else(|| version_in_file_name(url));
                return Pin { name: name.clone(), version, source: Some(url.trim().to_string()) };
            }
            let version = requirement.split_once("==").map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
            Pin { name: name.clone(), version, source: None }
        })
        .collect()
}

/// `1.0` in `.../probe-1.0-py3-none-any.whl` or `.../probe-1.0.tar.gz`.
fn version_in_file_name(url: &str) -> Option<String> {
    let file = url.split(['#', '?']).next()?.rsplit('/').next()?;
    if let Some(stem) = file.strip_suffix(".whl") {
        return stem.split('-').nth(1).filter(|v| !v.is_empty()).map(str::to_string);
    }
    let stem = [".tar.gz", ".zip", ".tar.bz2"].iter().find_map(|ext| file.strip_suffix(ext))?;
    stem.rsplit_once('-').map(|(_, v)| v.to_string()).filter(|v| !v.is_empty())
}

/// `name:tag@sha256:...` when the engine knows the digest, so the build starts from the very
/// image the snapshot did.
pub fn from_line(base: &Base) -> String {
    if Reference::parse(&base.reference).digest.is_some() {
        return base.reference.clone();
    }
    match base.repo_digest.as_deref().and_then(|d| d.split_once('@')) {
        Some((_, digest)) => format!("{}@{digest}", base.reference),
        None => base.reference.clone(),
    }
}

/// The repo digest (`name@sha256:...`) among `repo_digests` that belongs to `reference`'s repository.
pub fn digest_for(reference: &str, repo_digests: &[String]) -> Option<String> {
    let wanted = Reference::parse(reference);
    repo_digests.iter().find(|d| Reference::parse(d).same_repository(&wanted)).cloned()
}

pub fn generate(input: &ExportInput) -> Export {
    let mut warnings = Vec::new();
    let from = from_line(&input.base);
    let pinned = from.contains('@');
    if !pinned {
        let id = input.base.id.as_deref().unwrap_or("unknown");
        warnings.push(format!(
            "the engine knows no digest for {} (it was built or loaded here, not pulled), so the Dockerfile names its tag, which may move; it was image {id}",
            input.base.reference
        ));
    }
    for pin in &input.pip {
        let Some(source) = &pin.source else { continue };
        let source = redact(source);
        warnings.push(match &pin.version {
            Some(version) => format!(
                "{} was installed from {source}: the Dockerfile installs {}=={version}, which the build needs from a package index (PIP_INDEX_URL, PIP_FIND_LINKS)",
                pin.name, pin.name
            ),
            None => format!(
                "{} was installed from {source} and its version is unknown: requirements.txt names it unpinned, and the build needs it from a package index",
                pin.name
            ),
        });
    }
    if input.pip.is_empty() && input.pip_removed.is_empty() && input.conda.is_empty() && input.conda_removed.is_empty()
    {
        warnings.push(format!("snapshot {} adds no packages to its base image", input.snapshot));
    }

    let header = format!("{MARKER} from snapshot {} of {}", input.snapshot, input.repository);
    let dir = input.dir.trim_end_matches('/');
    let mut files = vec![(format!("{dir}/Dockerfile"), dockerfile(input, &header, &from, pinned))];
    if !input.pip.is_empty() {
        files.push((format!("{dir}/{REQUIREMENTS}"), requirements(input, &header)));
    }
    if !input.conda.is_empty() {
        let lines: String = input.conda.iter().map(|(name, version)| format!("{name}={version}\n")).collect();
        files.push((format!("{dir}/{CONDA_PACKAGES}"), format!("# {header}: conda packages added by hand.\n{lines}")));
    }
    files.push((DEVCONTAINER.to_string(), devcontainer(input, &header)));
    let build = BuildSpec { dockerfile: format!("{dir}/Dockerfile"), context: dir.to_string() };
    Export { files, build, from, warnings }
}

fn dockerfile(input: &ExportInput, header: &str, from: &str, pinned: bool) -> String {
    let dir = input.dir.trim_end_matches('/');
    let mut out = format!(
        "# {header}; `jenv export` rewrites it (delete this line to keep your edits).\n\
         # Context: this folder (`jenv up`, the devcontainer: --build-arg {FILES_ARG}=.), or the repository\n\
         # (repo2docker and mybinder; `docker build -f {dir}/Dockerfile .`).\n\
         FROM {from}\n"
    );
    if !pinned {
        let id = input.base.id.as_deref().unwrap_or("unknown");
        out.push_str(&format!("# No digest known for this tag; the snapshot was taken on image {id}.\n"));
    }
    out.push_str(&format!(
        "\n# Where this folder's files are in the build context.\nARG {FILES_ARG}={dir}\n\
         # Package indexes: build arguments (jenv passes them from its environment), never kept in the image.\n"
    ));
    for arg in PIP_ARGS {
        out.push_str(&format!("ARG {arg}\n"));
    }
    // docker-stacks images install as the notebook user and leave group-writable folders behind.
    let (conda, fix) = if input.docker_stacks {
        out.push_str("USER ${NB_UID}\n");
        ("mamba", " && \\\n    fix-permissions \"${CONDA_DIR}\" && \\\n    fix-permissions \"/home/${NB_USER}\"")
    } else {
        ("conda", "")
    };
    let copy = |file: &str| format!("COPY ${{{FILES_ARG}}}/{file} {COPIED_TO}/{file}\n");
    if !input.conda.is_empty() {
        out.push_str(&copy(CONDA_PACKAGES));
        let clean = if input.docker_stacks { " && \\\n    mamba clean --all -f -y" } else { "" };
        out.push_str(&format!("RUN {conda} install --yes --file {COPIED_TO}/{CONDA_PACKAGES}{clean}{fix}\n"));
    }
    if !input.conda_removed.is_empty() {
        let names: Vec<&str> = input.conda_removed.iter().map(String::as_str).collect();
        out.push_str(&format!("RUN {conda} remove --yes {}{fix}\n", names.join(" ")));
    }
    if !input.pip.is_empty() {
        out.push_str(&copy(REQUIREMENTS));
        out.push_str(&format!(
            "RUN python3 -m pip install --no-cache-dir --no-input -r {COPIED_TO}/{REQUIREMENTS}{fix}\n"
        ));
    }
    if !input.pip_removed.is_empty() {
        let names: Vec<&str> = input.pip_removed.iter().map(String::as_str).collect();
        out.push_str(&format!("RUN python3 -m pip uninstall --yes {}{fix}\n", names.join(" ")));
    }
    out
}

fn requirements(input: &ExportInput, header: &str) -> String {
    let mut out = format!("# {header}: pip packages added by hand, pinned.\n");
    for pin in &input.pip {
        let line = match &pin.version {
            Some(version) => format!("{}=={version}", pin.name),
            None => pin.name.clone(),
        };
        match &pin.source {
            Some(source) => out.push_str(&format!("{line}  # installed from {}\n", redact(source))),
            None => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

fn devcontainer(input: &ExportInput, header: &str) -> String {
    let dir = input.dir.trim_end_matches('/');
    let port = input.jupyter_port.to_string();
    let json = serde_json::json!({
        "name": input.env_name,
        "build": {
            "dockerfile": format!("../{dir}/Dockerfile"),
            "context": format!("../{dir}"),
            "args": { FILES_ARG: "." },
        },
        // The image's own command starts Jupyter.
        "overrideCommand": false,
        "forwardPorts": [input.jupyter_port],
        "portsAttributes": { port: { "label": "Jupyter" } },
        "workspaceMount": format!("source=${{localWorkspaceFolder}},target={},type=bind", input.mount),
        "workspaceFolder": input.mount,
    });
    let body = serde_json::to_string_pretty(&json).expect("a JSON value always serializes");
    format!("// {header}; `jenv export` rewrites it.\n{body}\n")
}

/// What a package is in one image, for the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    Absent,
    /// Installed, version unknown (a URL install whose image is gone).
    Any,
    Version(String),
}

/// A package the built image holds differently from the snapshot. `None` is "not installed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub manager: Manager,
    pub name: String,
    pub snapshot: Option<String>,
    pub build: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Difference { manager, name, snapshot, build } = self;
        match (snapshot, build) {
            (Some(s), None) => write!(f, "{name} ({manager}): {s} in the snapshot, missing from the build"),
            (None, Some(b)) => write!(f, "{name} ({manager}): {b} in the build, not in the snapshot"),
            (Some(s), Some(b)) => write!(f, "{name} ({manager}): {s} in the snapshot, {b} in the build"),
            (None, None) => write!(f, "{name} ({manager})"),
        }
    }
}

/// Where the built image differs from what the snapshot holds: its base plus `input`'s packages.
/// `base` and `built` are the two images' listings.
pub fn differences(input: &ExportInput, base: &Installed, built: &Installed) -> Vec<Difference> {
    let mut expected: BTreeMap<(Manager, String), Held> = BTreeMap::new();
    for pin in &input.pip {
        let held = pin.version.clone().map_or(Held::Any, Held::Version);
        expected.insert((Manager::Pip, packages::normalize(&pin.name)), held);
    }
    for name in &input.pip_removed {
        expected.insert((Manager::Pip, packages::normalize(name)), Held::Absent);
    }
    for (name, version) in &input.conda {
        expected.insert((Manager::Conda, name.clone()), Held::Version(version.clone()));
    }
    for name in &input.conda_removed {
        expected.insert((Manager::Conda, name.clone()), Held::Absent);
    }
    let held_in = |listing: &Installed, key: &(Manager, String)| {
        listing.get(key).map_or(Held::Absent, |found| Held::Version(found.version.clone()))
    };
    let changed: BTreeSet<(Manager, String)> =
        packages::compare(base, built).iter().map(|c| (c.key().0, c.key().1.to_string())).collect();
    let keys: BTreeSet<(Manager, String)> = expected.keys().cloned().chain(changed).collect();
    let mut out = Vec::new();
    for key in keys {
        let want = expected.get(&key).cloned().unwrap_or_else(|| held_in(base, &key));
        let have = held_in(built, &key);
        let same = want == have || (want == Held::Any && have != Held::Absent);
        if !same {
            let text = |held: &Held| match held {
                Held::Absent => None,
                Held::Any => Some("any version".to_string()),
                Held::Version(v) => Some(v.clone()),
            };
            out.push(Difference { manager: key.0, name: key.1.clone(), snapshot: text(&want), build: text(&have) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::Found;

    fn pin(name: &str, version: &str) -> Pin {
        Pin { name: name.into(), version: Some(version.into()), source: None }
    }

    fn input() -> ExportInput {
        ExportInput {
            env_name: "demo-1a2b3c4d".into(),
            repository: "jenv/demo-1a2b3c4d".into(),
            snapshot: "20261130-120000".into(),
            base: Base {
                reference: "quay.io/jupyter/base-notebook:latest".into(),
                repo_digest: Some("quay.io/jupyter/base-notebook@sha256:abc".into()),
                id: Some("sha256:111".into()),
            },
            docker_stacks: true,
            pip: vec![pin("jenv-probe", "1.0")],
            pip_removed: BTreeSet::new(),
            conda: BTreeMap::new(),
            conda_removed: BTreeSet::new(),
            jupyter_port: 8888,
            mount: "/home/jovyan/work".into(),
            dir: DEFAULT_DIR.into(),
        }
    }

    fn file<'a>(export: &'a Export, path: &str) -> &'a str {
        export.files.iter().find(|(p, _)| p == path).map(|(_, t)| t.as_str()).unwrap_or_else(|| panic!("no {path}"))
    }

    #[test]
    fn a_docker_stacks_snapshot_becomes_a_pinned_dockerfile_installing_as_nb_uid() {
        let export = generate(&input());
        let paths: Vec<&str> = export.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["binder/Dockerfile", "binder/requirements.txt", ".devcontainer/devcontainer.json"]);
        assert_eq!(export.from, "quay.io/jupyter/base-notebook:latest@sha256:abc");
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
        assert_eq!(export.build, BuildSpec { dockerfile: "binder/Dockerfile".into(), context: "binder".into() });
        let dockerfile = file(&export, "binder/Dockerfile");
        assert!(is_ours(dockerfile), "{dockerfile}");
        let instructions: Vec<&str> =
            dockerfile.lines().filter(|l| !l.starts_with('#') && !l.is_empty() && !l.starts_with("    ")).collect();
        assert_eq!(
            instructions,
            [
                "FROM quay.io/jupyter/base-notebook:latest@sha256:abc",
                "ARG JENV_FILES=binder",
                "ARG PIP_INDEX_URL",
                "ARG PIP_EXTRA_INDEX_URL",
                "ARG PIP_FIND_LINKS",
                "ARG PIP_TRUSTED_HOST",
                "USER ${NB_UID}",
                "COPY ${JENV_FILES}/requirements.txt /tmp/jenv-export/requirements.txt",
                "RUN python3 -m pip install --no-cache-dir --no-input -r /tmp/jenv-export/requirements.txt && \\",
            ]
        );
        assert!(dockerfile.contains("    fix-permissions \"/home/${NB_USER}\"\n"), "{dockerfile}");
        for never in ["CMD", "ENTRYPOINT", "ENV "] {
            assert!(!dockerfile.lines().any(|l| l.starts_with(never)), "{never} in {dockerfile}");
        }
        let requirements = file(&export, "binder/requirements.txt");
        assert!(is_ours(requirements));
        assert_eq!(requirements.lines().skip(1).collect::<Vec<_>>(), ["jenv-probe==1.0"]);
    }

    #[test]
    fn an_unpinnable_base_and_url_installs_are_named_with_warnings() {
        let mut input = input();
        input.base =
            Base { reference: "jenv-test/notebook:bookworm".into(), repo_digest: None, id: Some("sha256:42".into()) };
        input.docker_stacks = false;
        input.pip.push(Pin {
            name: "jenv-extra".into(),
            version: Some("2.0".into()),
            source: Some("https://me:s3cret@files.example.org/jenv_extra-2.0-py3-none-any.whl".into()),
        });
        let export = generate(&input);
        assert_eq!(export.from, "jenv-test/notebook:bookworm");
        let dockerfile = file(&export, "binder/Dockerfile");
        assert!(dockerfile.contains("FROM jenv-test/notebook:bookworm\n# No digest known"), "{dockerfile}");
        assert!(dockerfile.contains("image sha256:42"));
        assert!(!dockerfile.contains("USER") && !dockerfile.contains("fix-permissions"), "{dockerfile}");
        assert!(export.warnings[0].contains("no digest") && export.warnings[0].contains("sha256:42"));
        assert!(export.warnings[1].contains("jenv-extra==2.0") && export.warnings[1].contains("package index"));
        let requirements = file(&export, "binder/requirements.txt");
        assert!(requirements.contains("jenv-extra==2.0  # installed from https://***@files.example.org/"));
        let all: String =
            export.files.iter().map(|(_, t)| t.as_str()).chain(export.warnings.iter().map(String::as_str)).collect();
        assert!(!all.contains("s3cret"), "a password in a URL is never written");
    }

    #[test]
    fn conda_and_removals_are_installed_too() {
        let mut input = input();
        input.conda.insert("numpy".into(), "2.1.0".into());
        input.conda_removed.insert("old-conda".into());
        input.pip_removed.insert("old-pip".into());
        let export = generate(&input);
        let dockerfile = file(&export, "binder/Dockerfile");
        let conda = dockerfile.find("RUN mamba install --yes --file /tmp/jenv-export/conda-packages.txt").unwrap();
        let pip = dockerfile.find("RUN python3 -m pip install").unwrap();
        assert!(conda < pip, "conda first, pip on top: {dockerfile}");
        assert!(dockerfile.contains("RUN mamba remove --yes old-conda"));
        assert!(dockerfile.contains("RUN python3 -m pip uninstall --yes old-pip"));
        assert!(dockerfile.contains("mamba clean --all -f -y"));
        assert_eq!(file(&export, "binder/conda-packages.txt").lines().nth(1), Some("numpy=2.1.0"));
    }

    #[test]
    fn the_devcontainer_builds_the_same_dockerfile_and_starts_jupyter() {
        let export = generate(&input());
        let text = file(&export, DEVCONTAINER);
        assert!(is_ours(text));
        let json: serde_json::Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
        assert_eq!(json["build"]["dockerfile"], "../binder/Dockerfile");
        assert_eq!(json["build"]["context"], "../binder");
        assert_eq!(json["build"]["args"]["JENV_FILES"], ".");
        assert_eq!(json["overrideCommand"], false);
        assert_eq!(json["forwardPorts"], serde_json::json!([8888]));
        assert_eq!(json["workspaceFolder"], "/home/jovyan/work");
    }

    #[test]
    fn only_files_with_the_marker_are_ours() {
        assert!(is_ours("# Written by jenv export from snapshot x\nFROM y\n"));
        assert!(is_ours("// Written by jenv export\n{}"));
        assert!(!is_ours("FROM python\n# Written by jenv export\n"));
        assert!(!is_ours("# my own Dockerfile\n"));
        assert!(!is_ours(""));
    }

    #[test]
    fn pins_come_from_the_record_the_listing_or_the_file_name() {
        let record = BTreeMap::from([
            ("a".to_string(), "a==1.0".to_string()),
            ("b".to_string(), "b @ file:///w/dist/b-2.0-py3-none-any.whl".to_string()),
            ("c".to_string(), "c @ https://x.org/c-3.1.tar.gz#sha256=1".to_string()),
            ("d".to_string(), "d @ git+https://x.org/d.git".to_string()),
        ]);
        let listing = Installed::from([(
            (Manager::Pip, "b".to_string()),
            Found { manager: Manager::Pip, name: "b".into(), version: "2.0.1".into(), direct_url: None },
        )]);
        let pinned = pins(&record, Some(&listing));
        let versions: Vec<Option<&str>> = pinned.iter().map(|p| p.version.as_deref()).collect();
        assert_eq!(versions, [Some("1.0"), Some("2.0.1"), Some("3.1"), None]);
        let without_image = pins(&record, None);
        assert_eq!(without_image[1].version.as_deref(), Some("2.0"));
        assert_eq!(without_image[0].source, None);
        assert_eq!(without_image[3].source.as_deref(), Some("git+https://x.org/d.git"));
    }

    #[test]
    fn digests_are_matched_to_the_base_repository() {
        let digests = ["other/x@sha256:1".to_string(), "quay.io/jupyter/base-notebook@sha256:2".to_string()];
        assert_eq!(
            digest_for("quay.io/jupyter/base-notebook:latest", &digests).as_deref(),
            Some("quay.io/jupyter/base-notebook@sha256:2")
        );
        assert_eq!(
            digest_for("python:3.12", &["docker.io/library/python@sha256:3".into()]).as_deref(),
            Some("docker.io/library/python@sha256:3")
        );
        assert_eq!(digest_for("jenv-test/notebook:bookworm", &[]), None);
        let pinned = Base { reference: "x@sha256:9".into(), repo_digest: None, id: None };
        assert_eq!(from_line(&pinned), "x@sha256:9");
    }

    fn listing(entries: &[(&str, &str)]) -> Installed {
        entries
            .iter()
            .map(|(name, version)| {
                let found =
                    Found { manager: Manager::Pip, name: (*name).into(), version: (*version).into(), direct_url: None };
                ((Manager::Pip, (*name).to_string()), found)
            })
            .collect()
    }

    #[test]
    fn the_check_names_every_package_held_differently() {
        let mut input = input();
        input.pip = vec![
            pin("probe", "1.0"),
            pin("gone", "1.0"),
            Pin { name: "url".into(), version: None, source: Some("u".into()) },
        ];
        input.pip_removed.insert("dropped".into());
        let base = listing(&[("pip", "23"), ("dropped", "1"), ("kept", "5")]);
        let exact = listing(&[("pip", "23"), ("kept", "5"), ("probe", "1.0"), ("gone", "1.0"), ("url", "0.1")]);
        assert_eq!(differences(&input, &base, &exact), []);
        let built = listing(&[("pip", "23"), ("dropped", "1"), ("probe", "1.1"), ("extra", "3"), ("url", "0.1")]);
        let text: Vec<String> = differences(&input, &base, &built).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "dropped (pip): 1 in the build, not in the snapshot",
                "extra (pip): 3 in the build, not in the snapshot",
                "gone (pip): 1.0 in the snapshot, missing from the build",
                "kept (pip): 5 in the snapshot, missing from the build",
                "probe (pip): 1.0 in the snapshot, 1.1 in the build",
            ]
        );
    }
}
