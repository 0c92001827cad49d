//! A running notebook's URL: the port that reaches it from here, and its token.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::engine::types::Container;
use crate::manifest::JUPYTER_PORT;
use crate::notebook::forward::Forwards;
use crate::notebook::jupyter;
use crate::state::StateDir;
use crate::state::run_env::RunEnv;

/// The URL of a running container: token from the state, else from the container itself.
pub async fn url_of(tokens: &BTreeMap<String, String>, engine: &Engine, container: &Container) -> Result<String> {
    let port = reachable_port(engine, container)?;
    let token = token_of(tokens, engine, container).await?;
    Ok(jupyter::url(port, &container.ui, &token))
}

/// The notebook's token: from the state, else from its runtime file, else from the container.
pub async fn token_of(tokens: &BTreeMap<String, String>, engine: &Engine, container: &Container) -> Result<String> {
    Ok(match tokens.get(&container.name).filter(|t| !t.is_empty()) {
        Some(token) => token.clone(),
        None => match RunEnv::new(container.home.as_ref(), &container.name).token() {
            Some(token) => token,
            // A container from before jenv kept its variables in a file.
            None => token_from_engine(engine, &container.id).await?.unwrap_or_default(),
        },
    })
}

/// The port on this machine that reaches the notebook: its host port, or on an ssh engine the
/// local end of jenv's forward (the remote port when no forward runs).
pub fn reachable_port(engine: &Engine, container: &Container) -> Result<u16> {
    let port = container.host_port(JUPYTER_PORT).context("the container has no jupyter port label")?;
    if !engine.endpoint().is_ssh() {
        return Ok(port);
    }
    let forwards = Forwards::new(&StateDir { root: PathBuf::from(&container.home) });
    Ok(forwards.live(&container.name)?.and_then(|f| f.local_port(port)).unwrap_or(port))
}

async fn token_from_engine(engine: &Engine, container: &str) -> Result<Option<String>> {
    let env = engine.container_env(container).await?;
    Ok(env.into_iter().find_map(|(name, value)| (name == "JUPYTER_TOKEN").then_some(value)))
}
