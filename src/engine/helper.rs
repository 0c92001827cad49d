//! Containers that must not outlive the step that made them: short-lived helpers (listing an
//! image's packages, flattening, rebuilding, copying a snapshot for a push), and a notebook's
//! container while it is still being prepared.

use anyhow::Result;

use crate::engine::Engine;
use crate::engine::labels;
use crate::engine::types::ContainerSpec;

/// A helper that starts from `image` and idles (`sleep infinity`), labelled as a helper of the
/// state folder `home`: never listed as a notebook.
pub fn idle_spec(name: String, image: &str, home: &str) -> ContainerSpec {
    ContainerSpec {
        name,
        image: image.to_string(),
        user: String::new(),
        env: Vec::new(),
        labels: labels::helper(home),
        binds: Vec::new(),
        working_dir: String::new(),
        ports: Default::default(),
        tmpfs: vec!["/tmp".to_string()],
        entrypoint: Some(vec!["sleep".to_string(), "infinity".to_string()]),
        cmd: None,
        limits: Default::default(),
    }
}

/// The name of a helper for `purpose` (`list`, `flatten`, ...) of the container `owner`, unique
/// to this jenv process: `jenv-NAME-flatten-PID`.
pub fn name(owner: &str, purpose: &str) -> String {
    format!("{owner}-{purpose}-{}", std::process::id())
}

/// Creates the helper `spec`, runs `body` with its name, then removes it whatever `body` gave.
/// A failed removal is the error reported, before the body's own.
pub async fn with_helper<T>(
    engine: &Engine,
    spec: &ContainerSpec,
    body: impl AsyncFnOnce(&str) -> Result<T>,
) -> Result<T> {
    engine.create(spec).await?;
    let result = body(&spec.name).await;
    engine.remove(&spec.name).await?;
    result
}

/// Runs `step` on the created container `name`; when it fails, removes the container, so no
/// half-prepared one is left behind, and reports the step's failure.
pub async fn remove_on_error<T>(engine: &Engine, name: &str, step: impl Future<Output = Result<T>>) -> Result<T> {
    match step.await {
        Ok(value) => Ok(value),
        Err(err) => {
            engine.remove(name).await?;
            Err(err)
        }
    }
}
