//! `jenv export` against the engine and the disk: what the latest snapshot holds (its record, its
//! image, the base image's digest), writing the files [`export::generate`] makes without
//! overwriting anyone else's, and `--check`: building them and comparing the image's packages.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::engine::labels::{self, SnapshotLabels};
use crate::error::{Hinted, hinted};
use crate::manifest::trust::{ManifestFile, TrustStore, Verdict};
use crate::manifest::{FILE_NAME, JUPYTER_PORT, Project, build};
use crate::notebook::{Notebook, run_as};
use crate::packages::record;
use crate::packages::{Change, Installed};
use crate::snapshot::build::build_image;
use crate::snapshot::export::{self, Base, Difference, Export, ExportInput};
use crate::snapshot::store::SnapshotStore;
use crate::state::StateDir;
use crate::state::files::{read_optional, write_atomic, write_shared};

/// What the folder's latest snapshot holds, as the export's files are made from it.
pub async fn export_input(nb: &Notebook, dir: &str) -> Result<ExportInput> {
    let manifest = &nb.project.manifest;
    let repository = &manifest.repository;
    let latest = nb.engine.inspect_image(&format!("{repository}:latest")).await?;
    let labels = latest.as_ref().map(|i| SnapshotLabels::from_map(&i.labels)).filter(|l| !l.tag.is_empty());
    let record = match &labels {
        Some(labels) => SnapshotStore::of(nb).recorded(labels)?,
        // The image is gone (pruned, another machine): the lock says what it held.
        None => record::read_folder_record(&nb.project.folder)?,
    };
    let Some(record) = record else {
        hinted!(
            "this folder has no snapshot to export";
            "install what you need in the notebook, then `jenv snapshot`; `jenv export` writes files from it"
        );
    };
    let packages = nb.packages();
    // Versions of packages installed from a file or URL come from the snapshot's own listing.
    let snapshot_listing = match &latest {
        Some(image) if record.pip.values().any(|r| r.contains(" @ ")) => {
            Some(packages.installed(&packages.image_listing_as(&image.id, image.config.user()).await?))
        }
        _ => None,
    };
    let base_image = nb.engine.inspect_image(&record.base_image).await?;
    let env = base_image.as_ref().or(latest.as_ref()).map(|i| i.config.env()).unwrap_or_default();
    let base = Base {
        reference: record.base_image.clone(),
        repo_digest: base_image.as_ref().and_then(|i| export::digest_for(&record.base_image, &i.repo_digests)),
        id: base_image.as_ref().map(|i| i.id.clone()),
    };
    Ok(ExportInput {
        env_name: manifest.name.clone(),
        repository: repository.clone(),
        snapshot: record.snapshot.clone(),
        base,
        docker_stacks: run_as::is_docker_stacks(env),
        pip: export::pins(&record.pip, snapshot_listing.as_ref()),
        pip_removed: record.pip_removed.clone(),
        conda: record.conda.clone(),
        conda_removed: record.conda_removed.clone(),
        jupyter_port: manifest.container_ports().get(JUPYTER_PORT).copied().unwrap_or(8888),
        mount: manifest.mount.clone(),
        dir: dir.to_string(),
    })
}

/// Package changes in the notebook that no snapshot holds, which an export would leave out
/// (none without a notebook). A stopped notebook cannot be listed, so it is an error.
pub async fn unsnapshotted(nb: &Notebook) -> Result<Vec<Change>> {
    let Some(container) = nb.find().await? else { return Ok(Vec::new()) };
    if !container.is_running() && !container.is_paused() {
        hinted!(
            "the notebook is stopped, so jenv cannot tell whether it holds packages no snapshot has";
            "run `jenv up` and then `jenv snapshot`, or drop it with `jenv down --discard`; then run `jenv export` again"
        );
    }
    let container = nb.find_running().await?;
    nb.packages().pending_changes(&container).await
}

/// `jenv export --check`: builds the folder's `[build]` files and names each package the
/// image holds differently from the snapshot `input` describes. The image is removed after.
pub async fn check(nb: &Notebook, input: &ExportInput) -> Result<Vec<Difference>> {
    let Some(spec) = nb.project.manifest.build.clone() else {
        hinted!(
            "{FILE_NAME} has no [build] table: there are no exported files to check";
            "run `jenv export` first"
        );
    };
    let Some(base) = nb.engine.inspect_image(&input.base.reference).await? else {
        hinted!(
            "the base image {} is not on this engine, so the build cannot be compared with it",
            input.base.reference;
            format!("pull or load {} here, then check again", input.base.reference)
        );
    };
    let tag = format!("{}:check-{}", nb.project.manifest.repository, std::process::id());
    // Labelled as a helper, so nothing lists it and a clean-up by label finds it.
    let built = build_image(nb, &spec, &tag, labels::helper(&nb.state.root.display().to_string())).await?;
    let compared = async {
        let built_user = nb.engine.inspect_image(&built).await?.context("the built image vanished")?.config;
        let packages = nb.packages();
        let base_listing = packages.installed(&packages.image_listing_as(&base.id, base.config.user()).await?);
        let built_listing: Installed = packages.installed(&packages.image_listing_as(&built, built_user.user()).await?);
        anyhow::Ok(export::differences(input, &base_listing, &built_listing))
    }
    .await;
    nb.engine.remove_image(&tag).await?;
    compared
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
        match read_optional(&folder.join(path)) {
            Ok(Some(text)) if !export::is_ours(&text) => theirs.push(path.clone()),
            Ok(_) => {}
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
        // Shared with the project, unlike jenv's private state.
        write_shared(&path, text.as_bytes())?;
        paths.push(path);
    }
    if recorded != Some(&export.build) {
        paths.push(record_build(project, state, &export.build)?);
    }
    Ok(Written { paths })
}

/// Writes `[build]` into the manifest, keeping its mode. A manifest this user trusted stays
/// trusted: the change is the one they asked jenv to make.
fn record_build(project: &Project, state: &StateDir, spec: &build::BuildSpec) -> Result<PathBuf> {
    let path = project.folder.join(FILE_NAME);
    let mode = fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o644);
    let text = build::with_table(&project.text, &spec.to_table());
    let store = TrustStore::new(state);
    let trusted = store.verdict(&ManifestFile::of(project))? == Verdict::Trusted;
    write_atomic(&path, text.as_bytes())?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
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
    use crate::snapshot::export::{DEFAULT_DIR, Pin};
    use std::path::Path;

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
