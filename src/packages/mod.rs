//! Which packages a container added, removed or changed since a baseline.
//!
//! pip leaves one `NAME-VERSION.dist-info` folder per installed package, conda one
//! `conda-meta/NAME-VERSION-BUILD.json` file. A listing of those (one quick exec) compared with
//! the listing of the image the notebook started from (or of its last snapshot) gives the
//! changes, ignoring Jupyter's runtime files and caches by construction and never looking into
//! the mounted folder. (The engine's own filesystem diff would do too, but takes seconds on
//! some storage drivers.)
pub mod baseline;
pub mod installers;
pub mod record;
pub mod requirements;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    Pip,
    Conda,
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Manager::Pip => "pip",
            Manager::Conda => "conda",
        })
    }
}

/// One package's metadata entry, as found in a path of the container's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub manager: Manager,
    pub name: String,
    pub version: String,
    /// Where pip installed it from, for packages installed from a URL or file.
    pub direct_url: Option<String>,
}

/// How a package differs from the image the container started from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    Added { manager: Manager, name: String, version: String },
    Removed { manager: Manager, name: String, version: String },
    Changed { manager: Manager, name: String, from: String, to: String },
}

impl Change {
    pub fn key(&self) -> (Manager, &str) {
        match self {
            Change::Added { manager, name, .. }
            | Change::Removed { manager, name, .. }
            | Change::Changed { manager, name, .. } => (*manager, name),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { manager, name, version } => write!(f, "+ {name} {version} ({manager})"),
            Change::Removed { manager, name, version } => write!(f, "- {name} {version} ({manager})"),
            Change::Changed { manager, name, from, to } => write!(f, "~ {name} {from} -> {to} ({manager})"),
        }
    }
}

/// Lists package metadata as `PATH` or `PATH<TAB>DIRECT_URL` lines. Runs in the container;
/// with `clean`, pip's caches are removed first so a snapshot never holds them.
pub fn listing_script(clean: bool) -> String {
    let clean =
        if clean { "rm -rf /root/.cache/pip /home/*/.cache/pip \"$HOME/.cache/pip\" 2>/dev/null\n" } else { "" };
    format!(
        r#"{clean}python3 - <<'PY' 2>/dev/null
import json, os, sys
for folder in sys.path:
    if not folder or not os.path.isdir(folder):
        continue
    for entry in sorted(os.listdir(folder)):
        if entry.endswith((".dist-info", ".egg-info")):
            path = os.path.join(folder, entry)
            try:
                with open(os.path.join(path, "direct_url.json")) as f:
                    print(path + "\t" + json.load(f)["url"])
            except Exception:
                print(path)
PY
for f in /opt/conda/conda-meta/*.json; do [ -e "$f" ] && echo "$f"; done
true
"#
    )
}

/// The packages a listing shows, by manager and normalised name.
pub type Installed = BTreeMap<(Manager, String), Found>;

/// Parses the output of [`listing_script`], skipping anything under `exclude` (the mount).
pub fn parse_listing(text: &str, exclude: &str) -> Installed {
    let mut installed = Installed::new();
    for line in text.lines() {
        let (path, url) = match line.split_once('\t') {
            Some((path, url)) => (path, Some(url)),
            None => (line, None),
        };
        if path.starts_with(&format!("{}/", exclude.trim_end_matches('/'))) {
            continue;
        }
        if let Some(mut found) = identify(path) {
            found.direct_url = url.map(str::to_string);
            // The first entry on sys.path wins, as it does for `import`.
            installed.entry((found.manager, found.name.clone())).or_insert(found);
        }
    }
    installed
}

/// Changes from `before` to `after`, sorted by manager and name.
pub fn compare(before: &Installed, after: &Installed) -> Vec<Change> {
    let mut out = Vec::new();
    for (key, new) in after {
        match before.get(key) {
            Some(old) if old.version == new.version => {}
            Some(old) => out.push(Change::Changed {
                manager: new.manager,
                name: new.name.clone(),
                from: old.version.clone(),
                to: new.version.clone(),
            }),
            None => {
                out.push(Change::Added { manager: new.manager, name: new.name.clone(), version: new.version.clone() })
            }
        }
    }
    for (key, old) in before {
        if !after.contains_key(key) {
            out.push(Change::Removed { manager: old.manager, name: old.name.clone(), version: old.version.clone() });
        }
    }
    out.sort_by(|a, b| a.key().cmp(&b.key()));
    out
}

/// Recognises a package's metadata path: `.../NAME-VERSION.dist-info` (or `.egg-info`) for pip,
/// `.../conda-meta/NAME-VERSION-BUILD.json` for conda.
pub fn identify(path: &str) -> Option<Found> {
    let (parent, leaf) = path.rsplit_once('/')?;
    if let Some(stem) = leaf.strip_suffix(".dist-info").or_else(|| leaf.strip_suffix(".egg-info")) {
        // Wheel metadata escapes '-' in names to '_', so the version follows the first '-'.
        let (name, version) = stem.split_once('-')?;
        let version = version.split('-').next()?; // egg-info may append "-py3.11"
        if name.is_empty() || version.is_empty() {
            return None;
        }
        return Some(Found { manager: Manager::Pip, name: normalize(name), version: version.into(), direct_url: None });
    }
    if parent.ends_with("/conda-meta") {
        let stem = leaf.strip_suffix(".json")?;
        let mut parts = stem.rsplitn(3, '-');
        let (_build, version, name) = (parts.next()?, parts.next()?, parts.next()?);
        return Some(Found { manager: Manager::Conda, name: name.into(), version: version.into(), direct_url: None });
    }
    None
}

/// PEP 503 normalisation, so `Jenv_Probe` and `jenv-probe` are one package.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if matches!(c, '_' | '.' | '-') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "/usr/local/lib/python3.11/dist-packages";

    #[test]
    fn identifies_pip_and_conda_metadata() {
        let pip = identify(&format!("{SITE}/Jenv_Probe-1.0.2.dist-info")).unwrap();
        assert_eq!((pip.manager, pip.name.as_str(), pip.version.as_str()), (Manager::Pip, "jenv-probe", "1.0.2"));
        let egg = identify(&format!("{SITE}/six-1.16.0-py3.11.egg-info")).unwrap();
        assert_eq!((egg.name.as_str(), egg.version.as_str()), ("six", "1.16.0"));
        let conda = identify("/opt/conda/conda-meta/python-dateutil-2.9.0-pyhd8ed1ab_0.json").unwrap();
        assert_eq!(
            (conda.manager, conda.name.as_str(), conda.version.as_str()),
            (Manager::Conda, "python-dateutil", "2.9.0")
        );
        assert_eq!(identify(&format!("{SITE}/jenv_probe/__init__.py")), None);
        assert_eq!(identify(&format!("{SITE}/jenv_probe-1.0.dist-info/RECORD")), None);
        assert_eq!(identify("/opt/conda/etc/history.json"), None);
    }

    fn listing(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn added_removed_and_changed() {
        let before = parse_listing(
            &listing(&[
                &format!("{SITE}/gone-1.0.dist-info"),
                &format!("{SITE}/upgraded-1.0.dist-info"),
                &format!("{SITE}/same-3.0.dist-info"),
            ]),
            "/home/jovyan/work",
        );
        let after = parse_listing(
            &listing(&[
                &format!("{SITE}/newpkg-2.0.dist-info\tfile:///home/jovyan/work/newpkg-2.0-py3-none-any.whl"),
                &format!("{SITE}/upgraded-1.1.dist-info"),
                &format!("{SITE}/same-3.0.dist-info"),
            ]),
            "/home/jovyan/work",
        );
        let text: Vec<String> = compare(&before, &after).iter().map(ToString::to_string).collect();
        assert_eq!(text, ["- gone 1.0 (pip)", "+ newpkg 2.0 (pip)", "~ upgraded 1.0 -> 1.1 (pip)"]);
        let newpkg = &after[&(Manager::Pip, "newpkg".to_string())];
        assert_eq!(newpkg.direct_url.as_deref(), Some("file:///home/jovyan/work/newpkg-2.0-py3-none-any.whl"));
    }

    #[test]
    fn the_mounted_folder_and_other_files_are_ignored() {
        let installed = parse_listing(
            &listing(&[
                "/home/jovyan/work/vendored-1.0.dist-info",
                "/home/jovyan/.local/share/jupyter/runtime/kernel-1.json",
                "",
                "/opt/conda/conda-meta/numpy-2.1.0-py311h_0.json",
            ]),
            "/home/jovyan/work/",
        );
        let names: Vec<&str> = installed.values().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["numpy"]);
    }

    #[test]
    fn the_first_copy_on_the_path_wins() {
        let installed = parse_listing(
            &listing(&[
                "/home/jovyan/.local/lib/python3.11/site-packages/six-1.17.0.dist-info",
                &format!("{SITE}/six-1.16.0.dist-info"),
            ]),
            "/w",
        );
        assert_eq!(installed[&(Manager::Pip, "six".to_string())].version, "1.17.0");
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
    }
}
