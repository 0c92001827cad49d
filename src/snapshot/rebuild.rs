//! Rebuilding a folder's image from its base image and the recorded packages, for when the image
//! is gone (another machine, pruned) and `.jupyter-env.lock` is all that is left.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bollard::models::ImageConfig;

use crate::engine::ExecTarget;
use crate::error::{Hinted, hinted};
use crate::notebook::Context;
use crate::notebook::run_as;
use crate::packages::record::{self, LOCK_FILE, Record, Records};
use crate::snapshot::clock;
use crate::state::run_env::{self, RunEnv};
use crate::ui::progress::Spinner;

const HELPER_START_TIMEOUT: Duration = Duration::from_secs(60);
const HELPER_POLL: Duration = Duration::from_millis(100);

impl Context {
    /// Installs the recorded packages on the base image in a helper container and commits it as
    /// a new snapshot (or, with a `[build]` table, builds its files); returns its record.
    pub async fn rebuild(&self) -> Result<Record> {
        let _op = self.op_lock("jenv rebuild").await?;
        if self.project.manifest.build.is_some() {
            return self.build_from_files("rebuilt").await;
        }
        let Some(record) = record::read_lock(&self.project.folder)? else {
            hinted!(
                "take a snapshot first (`jenv snapshot`); it writes the record rebuild needs",
                "nothing to rebuild from: {} has no {LOCK_FILE}",
                self.project.folder.display()
            );
        };
        let base = &self.project.manifest.image;
        if self.engine.inspect_image(base).await?.is_none() {
            self.engine.pull(base).await.map_err(|e| {
                Hinted::new(
                    format!("cannot rebuild: the base image {base} is not on this engine and cannot be pulled ({e})"),
                    "load or build the base image here (`docker load`, `docker build`), then run `jenv rebuild` again",
                )
            })?;
        }
        let config =
            self.engine.inspect_image(base).await?.and_then(|i| i.config).context("the base image vanished")?;
        let run_as = run_as::decide(config.env.as_deref().unwrap_or_default(), run_as::host_ids());

        // Started as the notebook is (same entrypoint, user and environment), only idling instead
        // of serving, so installs run with the notebook user's identity and groups.
        let mount = self.project.manifest.mount.clone();
        // Its variables come from a file, as the notebook's do, so the commit holds none of them.
        let settings = self.settings()?;
        let vars = RunEnv::new(&self.state.root, &format!("{}-rebuild", self.env_name()));
        let vars_file = vars.write(&self.run_vars(&run_as, &settings))?;
        let mut helper = self.helper_spec(base, "rebuild");
        let idle = ["sleep".to_string(), "infinity".to_string()];
        helper.entrypoint = Some(run_env::wrapped_entrypoint(config.entrypoint.as_deref().unwrap_or_default(), &idle));
        helper.binds = vec![
            (self.project.folder.display().to_string(), mount.clone(), false),
            (vars_file.display().to_string(), run_env::TARGET.to_string(), true),
        ];
        helper.working_dir = run_as.working_dir.clone().unwrap_or(mount);
        helper.user = run_as.user.clone();
        let exec_env = vars.exec_env()?;
        self.engine.create(&helper).await?;
        let rebuilt = async {
            if let Some(claim) = &run_as.claim {
                self.engine.own_folder(&helper.name, &claim.path, claim.uid, claim.gid).await?;
            }
            let target = ExecTarget { container: &helper.name, user: &run_as.exec_user, env: &exec_env };
            self.install_and_commit(&target, record, config).await
        }
        .await;
        self.engine.remove(&helper.name).await?;
        vars.remove()?;
        rebuilt
    }

    /// Starts the helper and waits until its start script has handed over to `sleep infinity`.
    async fn start_idle_helper(&self, helper: &str) -> Result<()> {
        self.engine.start(helper).await.map_err(|e| anyhow::anyhow!("cannot start the rebuild container: {e:?}"))?;
        let deadline = Instant::now() + HELPER_START_TIMEOUT;
        loop {
            if self.engine.processes(helper).await.unwrap_or_default().iter().any(|p| p == "sleep infinity") {
                return Ok(());
            }
            let running = self.engine.inspect_container(helper).await?.and_then(|c| c.state).and_then(|s| s.running);
            if running != Some(true) || Instant::now() >= deadline {
                let logs = self.engine.tail_logs(helper, 20).await;
                hinted!(
                    "check that the base image starts its command through its entrypoint",
                    "the rebuild container did not start; its last log lines:\n{logs}"
                );
            }
            tokio::time::sleep(HELPER_POLL).await;
        }
    }

    /// Refuses before installing anything when the record needs conda and the image has none.
    async fn check_conda(&self, target: &ExecTarget<'_>, record: &Record) -> Result<Option<String>> {
        if record.conda.is_empty() && record.conda_removed.is_empty() {
            return Ok(None);
        }
        let probe = ["sh", "-c", "command -v mamba || command -v conda"];
        let (code, found) = self.engine.exec_capture(target, &probe).await?;
        if code == 0 && !found.trim().is_empty() {
            return Ok(Some(found.trim().rsplit('/').next().unwrap_or("conda").to_string()));
        }
        let names: Vec<&str> = record.conda.keys().chain(record.conda_removed.iter()).map(String::as_str).collect();
        hinted!(
            "set `image` in .jupyter-env to a conda-based image (e.g. a Jupyter docker-stacks image), or remove the conda entries from .jupyter-env.lock",
            "cannot rebuild: {LOCK_FILE} lists conda packages ({}) but the base image {} has neither conda nor mamba; nothing was installed",
            names.join(", "),
            self.project.manifest.image
        )
    }

    async fn install_and_commit(
        &self,
        target: &ExecTarget<'_>,
        mut record: Record,
        config: ImageConfig,
    ) -> Result<Record> {
        let helper = target.container;
        self.start_idle_helper(helper).await?;
        let conda = self.check_conda(target, &record).await?;
        for step in install_steps(&record, conda.as_deref().unwrap_or("conda")) {
            eprintln!("$ {}", step.join(" "));
            let outcome = self.engine.exec(target, &self.project.manifest.mount, &step, true).await?;
            if outcome.exit_code != 0 {
                hinted!(
                    "fix the failing entry in .jupyter-env.lock (or make its source reachable) and run `jenv rebuild` again",
                    "`{}` failed with exit code {}; no image was made",
                    step.join(" "),
                    outcome.exit_code
                );
            }
        }
        record.created = clock::now_secs();
        record.snapshot = format!("{}-rebuilt", clock::tag(record.created));
        record.message = format!("rebuilt from {LOCK_FILE}");
        record.size_added = 0;
        let repository = &self.project.manifest.repository;
        let config = self.snapshot_config(config, &record.snapshot, record.created, &record.message, Some(&record));
        let spinner = Spinner::new("committing the rebuilt image");
        let committed = self.engine.commit(helper, repository, &record.snapshot, config, false).await;
        spinner.finish();
        let image = committed?;
        self.engine.tag(&image, repository, "latest").await?;
        Records::new(&self.state, self.env_name()).save(&record)?;
        record::write_lock(&self.project.folder, &record)?;
        Ok(record)
    }
}

/// The installer commands that turn the base image into the recorded environment.
fn install_steps(record: &Record, conda: &str) -> Vec<Vec<String>> {
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
        let mut record = Record::default();
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
