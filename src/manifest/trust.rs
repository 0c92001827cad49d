//! Which manifests this user trusts, as direnv's `allow` and mise's `trust` do for theirs.
//!
//! A `.jupyter-env` arrives with every clone, and `jenv up` runs the image it names with the
//! folder (and its extra mounts, variables and devices) handed over. So a manifest runs nothing
//! until this user trusts it: by writing it with `jenv init` / `jenv up --init`, or by running
//! `jenv trust` after reading it. The record lives in the user's state (`trust.json`, 0600), keyed
//! by the manifest's full path and the sha256 of its content, so any edit, or the same file at
//! another path, needs trusting again. It keeps a copy of the trusted text to show what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Hinted;
use crate::manifest::keys::Gpus;
use crate::manifest::{FILE_NAME, Manifest, Project};
use crate::state::StateDir;
use crate::state::files::{read_text, write_atomic, write_shared};
use crate::ui::Console;

const FILE: &str = "trust.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrustFile {
    /// Manifest path -> what was trusted there.
    manifests: BTreeMap<PathBuf, Trusted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trusted {
    sha256: String,
    text: String,
}

/// How a manifest's current text stands against the trust record.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    /// Never trusted at this path.
    New,
    /// Trusted once; this was the text then.
    Changed {
        trusted_text: String,
    },
}

/// A manifest on disk: where it is and what it says now.
pub struct ManifestFile {
    pub path: PathBuf,
    pub text: String,
}

impl ManifestFile {
    /// The project's manifest as it was read and parsed (never read a second time, so what is
    /// judged is exactly what runs).
    pub fn of(project: &Project) -> ManifestFile {
        let path = project.folder.join(FILE_NAME);
        let path = path.canonicalize().unwrap_or(path);
        ManifestFile { path, text: project.text.clone() }
    }
}

pub struct TrustStore {
    state: StateDir,
}

impl TrustStore {
    pub fn new(state: &StateDir) -> TrustStore {
        TrustStore { state: state.clone() }
    }

    pub fn verdict(&self, file: &ManifestFile) -> Result<Verdict> {
        Ok(match self.read()?.manifests.remove(&file.path) {
            Some(trusted) if trusted.sha256 == sha256(&file.text) => Verdict::Trusted,
            Some(trusted) => Verdict::Changed { trusted_text: trusted.text },
            None => Verdict::New,
        })
    }

    pub fn trust(&self, file: &ManifestFile) -> Result<()> {
        let trusted = Trusted { sha256: sha256(&file.text), text: file.text.clone() };
        self.update(|records| {
            records.manifests.insert(file.path.clone(), trusted);
        })
    }

    /// Forgets `path`; whether it was trusted.
    pub fn untrust(&self, path: &Path) -> Result<bool> {
        let mut removed = false;
        self.update(|records| removed = records.manifests.remove(path).is_some())?;
        Ok(removed)
    }

    fn update(&self, change: impl FnOnce(&mut TrustFile)) -> Result<()> {
        let _lock = self.state.lock()?;
        let mut records = self.read()?;
        change(&mut records);
        write_atomic(&self.state.path(FILE), serde_json::to_string_pretty(&records)?.as_bytes())
    }

    fn read(&self) -> Result<TrustFile> {
        let path = self.state.path(FILE);
        let Some(text) = read_text(&path)? else { return Ok(TrustFile::default()) };
        serde_json::from_str(&text).map_err(|err| {
            Hinted::new(
                format!("{} is unreadable: {err}", path.display()),
                "remove it and trust your folders again with `jenv trust`",
            )
            .into()
        })
    }
}

/// Refuses to go on with `command` (e.g. `up`) unless the project's manifest is trusted: on a
/// terminal it shows the manifest, or what changed, and asks once; without one it fails naming
/// the file and `jenv trust`. `JENV_TRUST_ALL=1` or `trust_all = true` in the user config skip it.
pub async fn require(project: &Project, state: &StateDir, command: &str, console: &Console) -> Result<()> {
    if crate::manifest::user_config::UserConfig::load(console)?.trust_all() {
        return Ok(());
    }
    let store = TrustStore::new(state);
    let file = ManifestFile::of(project);
    let verdict = store.verdict(&file)?;
    if verdict == Verdict::Trusted {
        return Ok(());
    }
    let why = match verdict {
        Verdict::Changed { .. } => "it changed since you trusted it",
        _ => "you have not trusted it yet",
    };
    if !console.interactive() {
        return Err(Hinted::new(
            format!("{} is not trusted: {why}, and `jenv {command}` runs what it names", file.path.display()),
            format!(
                "read it (`jenv trust --show`), then run `jenv trust` in {} (JENV_TRUST_ALL=1 skips this check)",
                project.folder.display()
            ),
        )
        .into());
    }
    console.note(format_args!("{} is not trusted: {why}.", file.path.display()));
    console.note_lines(&review_text(&verdict, &file, &project.manifest, &project.folder));
    if !console.confirm("trust it and go on?").await? {
        return Err(Hinted::new(
            format!("{} is not trusted; nothing was started", file.path.display()),
            "read it, then run `jenv trust` to trust it",
        )
        .into());
    }
    store.trust(&file)?;
    Ok(())
}

/// Writes `manifest` into `folder` and trusts it: this user wrote it, here, with jenv.
pub fn write_trusted(folder: &Path, manifest: &Manifest, state: &StateDir) -> Result<()> {
    // Extra mounts must exist now, as they must when the notebook starts.
    for mount in &manifest.mounts {
        mount.resolve(folder)?;
    }
    let folder = folder.canonicalize().with_context(|| format!("cannot resolve {}", folder.display()))?;
    let path = folder.join(FILE_NAME);
    // Trusted before it exists: another jenv that finds the file (a second `up --init` in the
    // same folder, started at the same moment) must never see it untrusted.
    let file = ManifestFile { path: path.clone(), text: manifest.to_toml() };
    TrustStore::new(state).trust(&file)?;
    // The manifest is meant to be shared with the project, unlike jenv's private state.
    write_shared(&path, file.text.as_bytes())
}

/// What a person deciding on trust should read: the whole manifest (or the diff from the
/// trusted text), then everything it hands the container beyond its own folder.
pub fn review_text(verdict: &Verdict, file: &ManifestFile, manifest: &Manifest, folder: &Path) -> String {
    let mut out = match verdict {
        Verdict::Changed { trusted_text } => {
            format!("changes since you trusted it:\n{}", line_diff(trusted_text, &file.text))
        }
        _ => file.text.lines().map(|line| format!("  {line}\n")).collect(),
    };
    let reach = beyond_the_folder(manifest, folder);
    if !reach.is_empty() {
        out.push_str("it reaches beyond this folder:\n");
        out.extend(reach.iter().map(|item| format!("  ! {item}\n")));
    }
    out
}

/// What the manifest gives the container besides its own folder: extra mounts from elsewhere and
/// devices.
pub fn beyond_the_folder(manifest: &Manifest, folder: &Path) -> Vec<String> {
    let mut reach = Vec::new();
    for mount in &manifest.mounts {
        let source = mount.resolve(folder).unwrap_or_else(|_| mount.source_path(folder));
        if !source.starts_with(folder) {
            let mode = if mount.read_only { "read-only" } else { "read-write" };
            reach.push(format!("mounts {} at {} ({mode})", source.display(), mount.target));
        }
    }
    if let Some(gpus) = &manifest.resources.gpus {
        let devices = match gpus {
            Gpus::All(_) => "all GPUs".to_string(),
            Gpus::Count(n) => format!("{n} GPU(s)"),
            Gpus::Devices(ids) => format!("GPU devices {}", ids.join(", ")),
        };
        reach.push(format!("requests {devices}"));
    }
    reach
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A line diff (`-` old, `+` new, ` ` same) by longest common subsequence; manifests are small.
pub fn line_diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // common[i][j]: length of the LCS of a[i..] and b[j..].
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || common[i][j + 1] > common[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::InitOptions;
    use crate::manifest::keys::MountSpec;

    fn store() -> (tempfile::TempDir, TrustStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = TrustStore::new(&StateDir { root: dir.path().to_path_buf() });
        (dir, store)
    }

    fn file(path: &str, text: &str) -> ManifestFile {
        ManifestFile { path: PathBuf::from(path), text: text.to_string() }
    }

    #[test]
    fn trust_is_per_path_and_content() {
        let (dir, store) = store();
        let one = file("/p/a/.jupyter-env", "image = \"x\"\n");
        assert_eq!(store.verdict(&one).unwrap(), Verdict::New);
        store.trust(&one).unwrap();
        assert_eq!(store.verdict(&one).unwrap(), Verdict::Trusted);
        assert_eq!(store.verdict(&file("/p/b/.jupyter-env", "image = \"x\"\n")).unwrap(), Verdict::New);
        let edited = file("/p/a/.jupyter-env", "image = \"y\"\n");
        assert_eq!(store.verdict(&edited).unwrap(), Verdict::Changed { trusted_text: "image = \"x\"\n".into() });
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join(FILE)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);

        assert!(store.untrust(&one.path).unwrap());
        assert!(!store.untrust(&one.path).unwrap());
        assert_eq!(store.verdict(&one).unwrap(), Verdict::New);
    }

    #[test]
    fn the_diff_shows_removed_and_added_lines_in_place() {
        let diff = line_diff("a\nimage = \"x\"\nc\n", "a\nimage = \"y\"\nc\nd\n");
        assert_eq!(diff, "  a\n- image = \"x\"\n+ image = \"y\"\n  c\n+ d\n");
    }

    #[test]
    fn mounts_from_elsewhere_and_gpus_are_called_out() {
        let folder = Path::new("/home/ana/project");
        let mut manifest = Manifest::for_folder(folder, InitOptions::default()).unwrap();
        assert!(beyond_the_folder(&manifest, folder).is_empty());
        manifest.mounts = vec![
            MountSpec { source: "/etc".into(), target: "/mnt/etc".into(), read_only: false },
            MountSpec { source: "data".into(), target: "/data".into(), read_only: true },
        ];
        manifest.resources.gpus = Some(Gpus::All("all".into()));
        let reach = beyond_the_folder(&manifest, folder);
        assert_eq!(reach.len(), 2, "{reach:?}");
        assert!(reach[0].contains("/etc at /mnt/etc (read-write)"), "{reach:?}");
        assert_eq!(reach[1], "requests all GPUs");
    }
}
