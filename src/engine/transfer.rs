//! Moving images between the engine and registries: pull and push with the user's credentials,
//! their progress followed to the end, and why one failed, in the classes jenv acts on.

use std::collections::HashMap;

use anyhow::Result;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{CreateImageOptions, PushImageOptions};
use futures_util::{Stream, StreamExt};

use crate::engine::registry::Credentials;
use crate::engine::{Engine, engine_message};
use crate::ui::Console;
use crate::ui::progress::Bytes;

impl Engine {
    /// Whether `image`'s registry knows it, asked without pulling (the registry's manifest).
    pub async fn registry_has(&self, image: &str) -> Result<()> {
        self.docker
            .inspect_registry_image(image, None)
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!(engine_message(&e)))
    }

    /// Pulls `image` with `credentials`, its progress on `console`: a byte bar on a terminal, a
    /// line per layer otherwise.
    pub async fn pull(
        &self,
        image: &str,
        credentials: Option<Credentials>,
        console: &Console,
    ) -> Result<(), TransferError> {
        let options = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
        let stream = self.docker.create_image(Some(options), None, credentials.map(DockerCredentials::from));
        let progress = stream
            .map(|item| item.map(|info| (info.id, info.status, info.progress_detail.map(|d| (d.current, d.total)))));
        transfer(console.bytes(&format!("pulling {image}")), progress).await
    }

    /// Pushes `repository:tag` with `credentials`, its progress on `console` as for [`Engine::pull`].
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        credentials: Option<Credentials>,
        console: &Console,
    ) -> Result<(), TransferError> {
        let options = PushImageOptions { tag: Some(tag.to_string()), ..Default::default() };
        let stream = self.docker.push_image(repository, Some(options), credentials.map(DockerCredentials::from));
        // bollard's push progress has no layer IDs, so a push shows finished layers, not bytes.
        let progress = stream.map(|item| item.map(|info| (None, info.status, None)));
        transfer(console.bytes(&format!("pushing {repository}:{tag}")), progress).await
    }
}

/// Why a pull or push failed, in the classes jenv acts on.
#[derive(Debug)]
pub enum TransferError {
    /// The registry has no such repository or tag.
    NotFound(String),
    /// The registry wants a login (or refused the one it got).
    Unauthorized(String),
    Other(String),
}

impl TransferError {
    fn from_message(message: String) -> TransferError {
        let lower = message.to_ascii_lowercase();
        if ["unauthorized", "authentication required", "no basic auth credentials", "denied: requested access"]
            .iter()
            .any(|s| lower.contains(s))
        {
            TransferError::Unauthorized(message)
        } else if ["not found", "manifest unknown", "does not exist"].iter().any(|s| lower.contains(s)) {
            TransferError::NotFound(message)
        } else {
            TransferError::Other(message)
        }
    }

    pub fn message(&self) -> &str {
        match self {
            TransferError::NotFound(m) | TransferError::Unauthorized(m) | TransferError::Other(m) => m,
        }
    }
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TransferError {}

/// One progress item of a pull or push: layer ID, status text and (current, total) bytes.
type TransferItem = (Option<String>, Option<String>, Option<(Option<i64>, Option<i64>)>);

/// Follows a pull's or push's progress stream to its end, counting its bytes on `progress`.
async fn transfer(
    progress: Bytes,
    stream: impl Stream<Item = Result<TransferItem, DockerError>>,
) -> Result<(), TransferError> {
    let mut layers: HashMap<String, (i64, i64)> = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let (id, status, detail) = item.map_err(|e| TransferError::from_message(engine_message(&e)))?;
        if let (Some(id), Some((Some(current), Some(total)))) = (&id, detail) {
            layers.insert(id.clone(), (current, total));
            let (done, all) = layers.values().fold((0, 0), |(d, a), (c, t)| (d + c, a + t));
            progress.set(done as u64, all as u64);
        }
        if let Some(status) = status.filter(|s| LAYER_DONE.iter().any(|done| s.starts_with(done))) {
            progress.line(&format!("  {}: {}", id.as_deref().unwrap_or("layer"), status.to_ascii_lowercase()));
        }
    }
    progress.finish();
    Ok(())
}

/// How the statuses an engine reports when one layer of a pull or push is done begin
/// (`Mounted from team/base`).
const LAYER_DONE: &[&str] = &["Pull complete", "Already exists", "Pushed", "Layer already exists", "Mounted from"];

impl From<Credentials> for DockerCredentials {
    fn from(credentials: Credentials) -> DockerCredentials {
        DockerCredentials {
            serveraddress: Some(credentials.server),
            username: credentials.username,
            password: credentials.password,
            identitytoken: credentials.identity_token,
            ..Default::default()
        }
    }
}
