//! `jenv export` against the engine and the disk: what the latest snapshot holds (its record, its
//! image, the base image's digest), writing the files [`export::generate`] makes without
//! overwriting anyone else's, and `--check`: building them and comparing the image's packages.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::engine::label;
use crate::error::{Hinted, hinted};
use crate::manifest::trust::{ManifestFile, TrustStore, Verdict};
use crate::manifest::{FILE_NAME, JUPYTER_PORT, Project, build};
use crate::notebook::{Context, run_as};
use crate::packages::baseline::Listings;
use crate::packages::record::{self, Record, Records};
use crate::packages::{self, Installed};
use crate::snapshot::export::{self, Base, Difference, Export, ExportInput};
use crate::state::{StateDir, write_atomic};

impl Context {
    /// What the folder's latest snapshot holds, as the export's files are made from it.
    pub async fn export_input(&self, dir: &str) -> Result<ExportInput> {
        let repository = &self.project.manifest.repository;
        let latest = self.engine.inspect_image(&format!("{repository}:latest")).await?;
        let labels = latest.as_ref().and_then(|i| i.config.as_ref()).and_then(|c| c.labels.clone()).unwrap_or_default();
        let record = match labels.get(label::SNAPSHOT_TAG) {
            Some(tag) => self.snapshot_record(tag, &labels)?,
            // The image is gone (pruned, another machine): the lock says what it held.
            None => record::read_lock(&self.project.folder)?,
        };
        let Some(record) = record else {
            hinted!(
                "install what you need in the notebook, then `jenv snapshot`; `jenv export` writes files from it",
                "this folder has no snapshot to export"
            );
        };
        let from_url = record.pip.values().any(|r| r.contains(" @ "));
        let snapshot_listing = match (&latest, from_url) {
            (Some(image), true) => {
                let config = image.config.clone().unwrap_or_default();
                let id = image.id.clone().context("the snapshot image has no ID")?;
                Some(self.parse(&self.listing_as(&id, config.user.as_deref().unwrap_or_default()).await?))
            }
            _ => None,
        };
        let base_image = self.engine.inspect_image(&record.base_image).await?;
        let env = base_image.as_ref().or(latest.as_ref()).and_then(|i| i.config.as_ref()).and_then(|c| c.env.clone());
        let base = Base {
            reference: record.base_image.clone(),
            repo_digest: base_image
                .as_ref()
                .and_then(|i| export::digest_for(&record.base_image, i.repo_digests.as_deref().unwrap_or_default())),
            id: base_image.as_ref().and_then(|i| i.id.clone()),
        };
        let manifest = &self.project.manifest;
        Ok(ExportInput {
            env_name: manifest.name.clone(),
            repository: repository.clone(),
            snapshot: record.snapshot.clone(),
            base,
            docker_stacks: run_as::is_docker_stacks(env.as_deref().unwrap_or_default()),
            pip: export::pins(&record.pip, snapshot_listing.as_ref()),
            pip_removed: record.pip_removed.clone(),
            conda: record.conda.clone(),
            conda_removed: record.conda_removed.clone(),
            jupyter_port: manifest.container_ports().get(JUPYTER_PORT).copied().unwrap_or(8888),
            mount: manifest.mount.clone(),
            dir: dir.to_string(),
        })
    }

    /// The record of snapshot `tag`: jenv's own, else the one its image carries, else the lock's.
    fn snapshot_record(&self, tag: &str, labels: &HashMap<String, String>) -> Result<Option<Record>> {
        if let Some(record) = Records::new(&self.state, self.env_name()).load(tag)? {
            return Ok(Some(record));
        }
        if let Some(text) = labels.get(label::RECORD).filter(|t| !t.is_empty()) {
            return Record::parse(text, Path::new(label::RECORD)).map(Some);
        }
        Ok(record::read_lock(&self.project.folder)?.filter(|r| r.snapshot == tag))
    }

    /// The package listing of image `id` as `user` sees it: cached by ID, else listed in a
    /// short-lived helper container.
    async fn listing_as(&self, id: &str, user: &str) -> Result<String> {
        let listings = Listings::new(&self.state);
        if let Some(listing) = listings.load(id) {
            return Ok(listing);
        }
        let mut helper = self.helper_spec(id, "list");
        helper.user = user.to_string();
        self.engine.create(&helper).await?;
        let listed = async {
            self.engine.start(&helper.name).await.map_err(|e| anyhow::anyhow!("cannot start a helper: {e:?}"))?;
            let script = packages::listing_script(false);
            let target = crate::engine::ExecTarget { container: &helper.name, user, env: &[] };
            let (code, text) = self.engine.exec_capture(&target, &["sh", "-c", &script]).await?;
            if code != 0 {
                hinted!("check that the image has python3 and sh", "cannot list the packages of {id}: {}", text.trim());
            }
            anyhow::Ok(text)
        }
        .await;
        self.engine.remove(&helper.name).await?;
        let listing = listed?;
        listings.save(id, &listing)?;
        Ok(listing)
    }

    /// `jenv export --check`: builds the folder's `[build]` files and names each package the
    /// image holds differently from the snapshot `input` describes. The image is removed after.
    pub async fn check_export(&self, input: &ExportInput) -> Result<Vec<Difference>> {
        let Some(spec) = self.project.manifest.build.clone() else {
            hinted!(
                "run `jenv export` first",
                "{FILE_NAME} has no [build] table: there are no exported files to check"
            );
        };
        let Some(base) = self.engine.inspect_image(&input.base.reference).await? else {
            hinted!(
                format!("pull or load {} here, then check again", input.base.reference),
                "the base image {} is not on this engine, so the build cannot be compared with it",
                input.base.reference
            );
        };
        let tag = format!("{}:check-{}", self.project.manifest.repository, std::process::id());
        // Labelled as a helper, so nothing lists it and a clean-up by label finds it.
        let labels = HashMap::from([
            (label::MANAGED.to_string(), label::HELPER.to_string()),
            (label::HOME.to_string(), self.state.root.display().to_string()),
        ]);
        let built = self.build_image(&spec, &tag, labels).await?;
        let compared = async {
            let built_user = self.engine.inspect_image(&built).await?.and_then(|i| i.config).and_then(|c| c.user);
            let base_user = base.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default();
            let base_id = base.id.clone().context("the base image has no ID")?;
            let base_listing = self.parse(&self.listing_as(&base_id, &base_user).await?);
            let built_listing: Installed =
                self.parse(&self.listing_as(&built, built_user.as_deref().unwrap_or_default()).await?);
            anyhow::Ok(export::differences(input, &base_listing, &built_listing))
        }
        .await;
        self.engine.remove_image(&tag).await?;
        compared
    }
}

/// What `jenv export` wrote: each path, the manifest's too when it added `[build]`.
#[derive(Debug)]
pub struct Written {
    pub paths: Vec<PathBuf>,
}

/// Writes `export`'s files into the project and records its `[build]` table in the manifest.
/// Refuses, writing nothing, when a file is there that jenv export did not write, or the
/// manifest names other build files, unless `force`.
pub fn write(project: &Project, state: &StateDir, export: &Export, force: bool) -> Result<Written> {
    let folder = &project.folder;
    let mut theirs: Vec<String> = Vec::new();
    for (path, _) in &export.files {
        match fs::read_to_string(folder.join(path)) {
            Ok(text) if !export::is_ours(&text) => theirs.push(path.clone()),
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            // Unreadable (binary, no permission): not a file jenv export wrote.
            Err(_) => theirs.push(path.clone()),
        }
    }
    let recorded = project.manifest.build.as_ref();
    if recorded.is_some_and(|b| *b != export.build) {
        theirs.push(format!("[build] in {FILE_NAME}"));
    }
    if !theirs.is_empty() && !force {
        return Err(Hinted::new(
            format!(
                "jenv export did not write {}, so it will not overwrite it; nothing was written",
                theirs.join(", ")
            ),
            "move it out of the way, or run `jenv export --force` to replace it",
        )
        .into());
    }
    let mut paths = Vec::new();
    for (path, text) in &export.files {
        let path = folder.join(path);
        let dir = path.parent().context("an export file has no folder")?;
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomic(&path, text.as_bytes())?;
        // Shared with the project, unlike jenv's private state.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        paths.push(path);
    }
    if recorded != Some(&export.build) {
        paths.push(record_build(project, state, &export.build)?);
    }
    Ok(Written { paths })
}

/// Writes `[build]` into the manifest. A manifest this user trusted stays trusted: the change is
/// the one they asked jenv to make.
fn record_build(project: &Project, state: &StateDir, spec: &build::BuildSpec) -> Result<PathBuf> {
    let path = project.folder.join(FILE_NAME);
    let mode = fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o644);
    let text = build::with_table(&project.text, &spec.to_table());
    let store = TrustStore::new(state);
    let trusted = store.verdict(&ManifestFile::of(project))? == Verdict::Trusted;
    write_atomic(&path, text.as_bytes())?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    if trusted {
        let updated = Project { text, ..project.clone() };
        store.trust(&ManifestFile::of(&updated))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::snapshot::export::{DEFAULT_DIR, ExportInput, Pin};

    fn project(dir: &Path) -> Project {
        let text = "name = \"demo\"\n".to_string();
        fs::write(dir.join(FILE_NAME), &text).unwrap();
        let manifest = Manifest::parse(&text, &dir.join(FILE_NAME)).unwrap();
        Project { folder: dir.to_path_buf(), manifest, text }
    }

    fn export() -> Export {
        export::generate(&ExportInput {
            env_name: "demo".into(),
            repository: "jenv/demo".into(),
            snapshot: "s1".into(),
            base: Base { reference: "img:1".into(), repo_digest: None, id: None },
            docker_stacks: false,
            pip: vec![Pin { name: "a".into(), version: Some("1".into()), source: None }],
            pip_removed: Default::default(),
            conda: Default::default(),
            conda_removed: Default::default(),
            jupyter_port: 8888,
            mount: "/home/jovyan/work".into(),
            dir: DEFAULT_DIR.into(),
        })
    }

    #[test]
    fn writes_the_files_and_the_build_table_and_keeps_trust() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir { root: tmp.path().join("state") };
        let folder = tmp.path().join("p");
        fs::create_dir(&folder).unwrap();
        let project = project(&folder);
        TrustStore::new(&state).trust(&ManifestFile::of(&project)).unwrap();
        let written = write(&project, &state, &export(), false).unwrap();
        let names: Vec<String> =
            written.paths.iter().map(|p| p.strip_prefix(&folder).unwrap().display().to_string()).collect();
        assert_eq!(
            names,
            ["binder/Dockerfile", "binder/requirements.txt", ".devcontainer/devcontainer.json", FILE_NAME]
        );
        let text = fs::read_to_string(folder.join(FILE_NAME)).unwrap();
        let reread = Manifest::parse(&text, &folder.join(FILE_NAME)).unwrap();
        assert_eq!(reread.build, Some(export().build));
        assert!(text.starts_with("name = \"demo\"\n"), "{text}");
        let now = Project { manifest: reread, text, ..project.clone() };
        assert_eq!(TrustStore::new(&state).verdict(&ManifestFile::of(&now)).unwrap(), Verdict::Trusted);
        // Again: its own files are rewritten, the manifest already says it.
        let again = write(&now, &state, &export(), false).unwrap();
        assert_eq!(again.paths.len(), 3);
    }

    #[test]
    fn refuses_to_overwrite_what_it_did_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir { root: tmp.path().join("state") };
        let project = project(tmp.path());
        fs::create_dir(tmp.path().join("binder")).unwrap();
        fs::write(tmp.path().join("binder/requirements.txt"), "numpy\n").unwrap();
        let err = write(&project, &state, &export(), false).unwrap_err();
        let hinted = err.downcast_ref::<Hinted>().unwrap();
        assert!(hinted.message.contains("binder/requirements.txt"), "{}", hinted.message);
        assert!(hinted.hint.contains("--force"));
        assert!(!tmp.path().join("binder/Dockerfile").exists(), "nothing was written");
        assert_eq!(fs::read_to_string(tmp.path().join(FILE_NAME)).unwrap(), project.text);
        write(&project, &state, &export(), true).unwrap();
        assert!(export::is_ours(&fs::read_to_string(tmp.path().join("binder/requirements.txt")).unwrap()));
    }
}
