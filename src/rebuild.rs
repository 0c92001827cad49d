//! Rebuilding a folder's image from its base image and the recorded packages, for when the image
//! is gone (another machine, pruned) and `.jupyter-env.lock` is all that is left.

use anyhow::{Context as _, Result};
use bollard::models::ImageConfig;

use crate::clock;
use crate::environment::Context;
use crate::error::{Hinted, hinted};
use crate::record::{self, LOCK_FILE, Record, Records};
use crate::runas;

impl Context {
    /// Installs the recorded packages on the base image in a helper container and commits it as
    /// a new snapshot; returns its record.
    pub async fn rebuild(&self) -> Result<Record> {
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
        let run_as = runas::decide(config.env.as_deref().unwrap_or_default(), runas::host_ids());

        let mut helper = self.helper_spec(base, "rebuild");
        helper.binds = vec![(self.project.folder.display().to_string(), self.project.manifest.mount.clone(), false)];
        helper.working_dir = self.project.manifest.mount.clone();
        helper.env = run_as.env.clone();
        helper.user = runas::install_user(&config, &run_as);
        self.engine.create(&helper).await?;
        let rebuilt = self.install_and_commit(&helper.name, &helper.user, record, config).await;
        self.engine.remove(&helper.name).await?;
        rebuilt
    }

    async fn install_and_commit(
        &self,
        helper: &str,
        user: &str,
        mut record: Record,
        config: ImageConfig,
    ) -> Result<Record> {
        self.engine.start(helper).await.map_err(|e| anyhow::anyhow!("cannot start the rebuild container: {e:?}"))?;
        for step in install_steps(&record) {
            eprintln!("$ {}", step.join(" "));
            let outcome = self.engine.exec(helper, user, &self.project.manifest.mount, &step, true).await?;
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
        let config = self.snapshot_config(config, &record.snapshot, record.created, &record.message);
        let image = self.engine.commit(helper, repository, &record.snapshot, config).await?;
        self.engine.tag(&image, repository, "latest").await?;
        Records::new(&self.state, self.env_name()).save(&record)?;
        record::write_lock(&self.project.folder, &record)?;
        Ok(record)
    }
}

/// The installer commands that turn the base image into the recorded environment.
fn install_steps(record: &Record) -> Vec<Vec<String>> {
    let step = |head: &[&str], items: Vec<String>| -> Option<Vec<String>> {
        (!items.is_empty()).then(|| head.iter().map(|s| s.to_string()).chain(items).collect())
    };
    [
        step(&["python3", "-m", "pip", "install", "--no-input"], record.pip.values().cloned().collect()),
        step(&["python3", "-m", "pip", "uninstall", "-y"], record.pip_removed.iter().cloned().collect()),
        step(&["conda", "install", "-y"], record.conda.iter().map(|(n, v)| format!("{n}={v}")).collect()),
        step(&["conda", "remove", "-y"], record.conda_removed.iter().cloned().collect()),
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
        assert!(install_steps(&record).is_empty());
        record.pip.insert("probe".into(), "probe @ file:///w/probe.whl".into());
        record.pip_removed.insert("old".into());
        let steps = install_steps(&record);
        assert_eq!(steps[0], ["python3", "-m", "pip", "install", "--no-input", "probe @ file:///w/probe.whl"]);
        assert_eq!(steps[1], ["python3", "-m", "pip", "uninstall", "-y", "old"]);
    }
}
