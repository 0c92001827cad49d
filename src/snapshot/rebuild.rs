//! Rebuilding a folder's image from its base image and the recorded packages, for when the image
//! is gone (another machine, pruned) and `.jupyter-env.lock` is all that is left.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::clock;
use crate::engine::Engine;
use crate::engine::helper::with_helper;
use crate::engine::image_config::ImageConfig;
use crate::engine::types::{Bind, ExecTarget, LogChunk, StartError};
use crate::error::{Hinted, hinted};
use crate::notebook::Notebook;
use crate::notebook::create::run_vars;
use crate::notebook::image::pull_base;
use crate::notebook::run_as;
use crate::packages::record::{self, PackageRecord, RECORD_FILE, RecordStore};
use crate::snapshot::build::build_from_files;
use crate::snapshot::snapshot_config;
use crate::state::run_env::{self, RunEnv};
use crate::ui::Stream;

const HELPER_START_TIMEOUT: Duration = Duration::from_secs(60);
const HELPER_POLL: Duration = Duration::from_millis(100);

/// Installs the recorded packages on the base image in a helper container and commits it as
/// a new snapshot (or, with a `[build]` table, builds its files); returns its record.
pub async fn rebuild(nb: &Notebook) -> Result<PackageRecord> {
    let _op = nb.lock("jenv rebuild").await?;
    if nb.project.manifest.build.is_some() {
        return build_from_files(nb, "rebuilt").await;
    }
    let Some(record) = record::read_folder_record(&nb.project.folder)? else {
        hinted!(
            "nothing to rebuild from: {} has no {RECORD_FILE}",
            nb.project.folder.display();
            "take a snapshot first (`jenv snapshot`); it writes the record rebuild needs"
        );
    };
    let base = &nb.project.manifest.image;
    if nb.engine.inspect_image(base).await?.is_none() {
        pull_base(&nb.engine, base, &nb.console).await.map_err(|e| {
            Hinted::new(
                format!("cannot rebuild: the base image {base} is not on this engine and cannot be pulled ({e})"),
                "load or build the base image here (`docker load`, `docker build`), then run `jenv rebuild` again",
            )
        })?;
    }
    let config = nb.engine.inspect_image(base).await?.map(|i| i.config).context("the base image vanished")?;
    let run_as = run_as::decide(config.env(), run_as::host_ids());

    // Started as the notebook is (same entrypoint, user and environment), only idling instead
    // of serving, so installs run with the notebook user's identity and groups.
    let mount = nb.project.manifest.mount.clone();
    // Its variables come from a file, as the notebook's do, so the commit holds none of them.
    let resolved = nb.resolve()?;
    let vars = RunEnv::new(&nb.state.root, &format!("{}-rebuild", nb.name()));
    let vars_file = vars.write(&run_vars(&run_as, &resolved))?;
    let mut helper = nb.helper_spec(base, "rebuild");
    let idle = ["sleep".to_string(), "infinity".to_string()];
    helper.entrypoint = Some(run_env::wrapped_entrypoint(config.entrypoint(), &idle));
    helper.binds = vec![
        Bind { source: nb.project.folder.clone(), target: mount.clone(), read_only: false },
        Bind { source: vars_file, target: run_env::TARGET.to_string(), read_only: true },
    ];
    helper.working_dir = run_as.working_dir.clone().unwrap_or(mount);
    helper.user = run_as.user.clone();
    let exec_env = vars.exec_env()?;
    let rebuilt = with_helper(&nb.engine, &helper, async |name: &str| {
        if let Some(claim) = &run_as.claim {
            nb.engine.own_folder(name, &claim.path, claim.uid, claim.gid).await?;
        }
        let target = ExecTarget { container: name, user: &run_as.exec_user, env: &exec_env };
        install_and_commit(nb, &target, record, config).await
    })
    .await;
    vars.remove()?;
    rebuilt
}

/// Starts the helper and waits until its start script has handed over to `sleep infinity`.
async fn start_idle_helper(engine: &Engine, helper: &str) -> Result<()> {
    engine.start(helper).await.map_err(StartError::into_error).context("cannot start the rebuild container")?;
    let deadline = Instant::now() + HELPER_START_TIMEOUT;
    loop {
        if engine.processes(helper).await.unwrap_or_default().iter().any(|p| p == "sleep infinity") {
            return Ok(());
        }
        if !engine.is_running(helper).await? || Instant::now() >= deadline {
            let logs = engine.tail_logs(helper, 20).await;
            hinted!(
                "the rebuild container did not start; its last log lines:\n{logs}";
                "check that the base image starts its command through its entrypoint"
            );
        }
        tokio::time::sleep(HELPER_POLL).await;
    }
}

/// Refuses before installing anything when the record needs conda and the image has none.
async fn check_conda(nb: &Notebook, target: &ExecTarget<'_>, record: &PackageRecord) -> Result<Option<String>> {
    if record.conda.is_empty() && record.conda_removed.is_empty() {
        return Ok(None);
    }
    let probe = ["sh", "-c", "command -v mamba || command -v conda"];
    let (code, found) = nb.engine.exec_capture(target, &probe).await?;
    if code == 0 && !found.trim().is_empty() {
        return Ok(Some(found.trim().rsplit('/').next().unwrap_or("conda").to_string()));
    }
    let names: Vec<&str> = record.conda.keys().chain(record.conda_removed.iter()).map(String::as_str).collect();
    hinted!(
        "cannot rebuild: {RECORD_FILE} lists conda packages ({}) but the base image {} has neither conda nor mamba; nothing was installed",
        names.join(", "),
        nb.project.manifest.image;
        "set `image` in .jupyter-env to a conda-based image (e.g. a Jupyter docker-stacks image), or remove the conda entries from .jupyter-env.lock"
    )
}

async fn install_and_commit(
    nb: &Notebook,
    target: &ExecTarget<'_>,
    mut record: PackageRecord,
    config: ImageConfig,
) -> Result<PackageRecord> {
    let helper = target.container;
    start_idle_helper(&nb.engine, helper).await?;
    let conda = check_conda(nb, target, &record).await?;
    for step in install_steps(&record, conda.as_deref().unwrap_or("conda")) {
        nb.console.progress(format_args!("$ {}", step.join(" ")));
        // Its stdout holds the result line alone: the installers' output goes to stderr.
        let to_stderr = |chunk: LogChunk| nb.console.container_output(Stream::Stderr, chunk.bytes());
        let outcome = nb.engine.exec(target, &nb.project.manifest.mount, &step, to_stderr).await?;
        if outcome.exit_code != 0 {
            hinted!(
                "`{}` failed with exit code {}; no image was made",
                step.join(" "),
                outcome.exit_code;
                "fix the failing entry in .jupyter-env.lock (or make its source reachable) and run `jenv rebuild` again"
            );
        }
    }
    record.created = clock::now_secs();
    record.snapshot = format!("{}-rebuilt", clock::tag(record.created));
    record.message = format!("rebuilt from {RECORD_FILE}");
    record.size_added = 0;
    let repository = &nb.project.manifest.repository;
    let config = snapshot_config(nb, config, &record.snapshot, record.created, &record.message, Some(&record));
    let spinner = nb.console.spinner("committing the rebuilt image");
    let committed = nb.engine.commit(helper, repository, &record.snapshot, config, false).await;
    spinner.finish();
    let image = committed?;
    nb.engine.tag(&image, repository, "latest").await?;
    RecordStore::new(&nb.state, nb.name()).save(&record)?;
    record::write_folder_record(&nb.project.folder, &record)?;
    Ok(record)
}

/// The installer commands that turn the base image into the recorded environment.
fn install_steps(record: &PackageRecord, conda: &str) -> Vec<Vec<String>> {
    let step = |head: &[&str], items: Vec<String>| -> Option<Vec<String>> {
        (!items.is_empty()).then(|| head.iter().map(|s| s.to_string()).chain(items).collect())
    };
    [
        step(&["python3", "-m", "pip", "install", "--no-input"], record.pip.values().cloned().collect()),
        step(&["python3", "-m", "pip", "uninstall", "-y"], record.pip_removed.iter().cloned().collect()),
        step(&[conda, "install", "-y"], record.conda.iter().map(|(n, v)| format!("{n}={v}")).collect()),
        step(&[conda, "remove", "-y"], record.conda_removed.iter().cloned().collect()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_record() {
        let mut record = PackageRecord::default();
        assert!(install_steps(&record, "conda").is_empty());
        record.pip.insert("probe".into(), "probe @ file:///w/probe.whl".into());
        record.pip_removed.insert("old".into());
        record.conda.insert("numpy".into(), "2.1.0".into());
        let steps = install_steps(&record, "mamba");
        assert_eq!(steps[0], ["python3", "-m", "pip", "install", "--no-input", "probe @ file:///w/probe.whl"]);
        assert_eq!(steps[1], ["python3", "-m", "pip", "uninstall", "-y", "old"]);
        assert_eq!(steps[2], ["mamba", "install", "-y", "numpy=2.1.0"]);
    }
}
