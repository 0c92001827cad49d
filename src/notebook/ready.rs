//! Waiting for a new or restarted notebook's Jupyter to answer.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::engine::Engine;
use crate::engine::types::{Container, PublishedPort};
use crate::error::Hinted;
use crate::manifest::{self, JUPYTER_PORT};
use crate::notebook::jupyter;
use crate::ui::Console;

/// How often readiness is polled; short, so `jenv up` returns soon after Jupyter answers.
const READY_POLL: Duration = Duration::from_millis(50);
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls Jupyter's `/api` on `port` until it answers; the error says why it never did (the
/// container stopped, the deadline passed, Ctrl-C).
pub async fn wait(engine: &Engine, container: &Container, port: u16, console: &Console) -> Result<()> {
    let deadline = Instant::now() + ready_timeout();
    let spinner = console.spinner("waiting for Jupyter to answer");
    let outcome = tokio::select! {
        outcome = poll(engine, container, port, deadline) => outcome,
        _ = crate::ui::signals::interrupted() => Err(anyhow::anyhow!("interrupted before the notebook was ready")),
    };
    spinner.finish();
    outcome
}

/// The error for a notebook that never answered, with its last log lines.
pub fn failed(reason: &anyhow::Error, logs: &str) -> anyhow::Error {
    Hinted::new(
        format!("{reason}; its last log lines:\n{}", indent(logs)),
        "fix the image or manifest and run `jenv up` again (the container was removed)",
    )
    .into()
}

async fn poll(engine: &Engine, container: &Container, port: u16, deadline: Instant) -> Result<()> {
    // A fixed rate, not a sleep after each probe, so probes do not drift later and later.
    let mut ticks = tokio::time::interval(READY_POLL);
    let mut polls = 0u32;
    let here = engine.endpoint().ports_reachable_here();
    let name = manifest::container_name(&container.name);
    loop {
        ticks.tick().await;
        if here && jupyter::is_ready(port).await {
            return Ok(());
        }
        // A TCP engine on another machine publishes on its own loopback: ask from inside.
        if !here && polls.is_multiple_of(5) && answers_inside(engine, container).await {
            return Ok(());
        }
        polls += 1;
        // Asking the engine is dearer than a TCP connect, so check for a dead container less often.
        if polls.is_multiple_of(10) && !engine.is_running(&name).await? {
            anyhow::bail!("the notebook container stopped before Jupyter answered");
        }
        if Instant::now() >= deadline {
            anyhow::bail!("Jupyter did not answer on port {port} within {}s", ready_timeout().as_secs());
        }
    }
}

/// Whether Jupyter answers on its container port, asked from inside the container (with the
/// image's Python, which every Jupyter image has).
async fn answers_inside(engine: &Engine, container: &Container) -> bool {
    let Some(PublishedPort { container: port, .. }) = container.ports.get(JUPYTER_PORT) else { return false };
    let probe = format!(
        "import urllib.request as r, urllib.error as e\ntry: r.urlopen('http://127.0.0.1:{port}/api', timeout=2)\nexcept e.HTTPError: pass"
    );
    let target = container.exec_target(&[]);
    matches!(engine.exec_capture(&target, &["python3", "-c", &probe]).await, Ok((0, _)))
}

fn ready_timeout() -> Duration {
    crate::manifest::user_config::seconds_from_env("JENV_READY_TIMEOUT", DEFAULT_READY_TIMEOUT)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
