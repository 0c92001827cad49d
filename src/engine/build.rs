//! Building an image from a Dockerfile through the engine's build API, with the classic builder
//! (engines as old as API 1.41 have no BuildKit session over the API): the context goes as a tar
//! of one folder, progress comes back as [`BuildEvent`]s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use crate::engine::archive::context_tar;
use crate::engine::{Engine, engine_message};

/// Output lines kept to explain a failed build.
const TAIL_LINES: usize = 15;

/// One image build: what is sent and how the image is named and labelled.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The folder sent as the build context: it alone, as it is.
    pub context: PathBuf,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// `repository:tag` for the built image.
    pub tag: String,
    pub labels: HashMap<String, String>,
    /// Build arguments: the Dockerfile's `ARG`s, never stored in the image's environment.
    pub args: BTreeMap<String, String>,
    /// Run the build's steps on the engine host's network, so they reach services on its loopback.
    pub host_network: bool,
}

/// What a build reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// `Step 2/5 : RUN ...`: the builder started an instruction.
    Step(String),
    /// A line the step printed.
    Output(String),
}

/// A build the engine refused or a step that failed, with the last lines it printed.
#[derive(Debug)]
pub struct BuildFailed {
    pub message: String,
    pub tail: Vec<String>,
}

impl std::fmt::Display for BuildFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the build failed: {}", self.message.trim())?;
        if !self.tail.is_empty() {
            write!(f, "; its last lines:")?;
            for line in &self.tail {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BuildFailed {}

impl Engine {
    /// Builds `request` and returns the image's ID, handing each step and output line to
    /// `progress`. A refused build or a failed step is a [`BuildFailed`].
    pub async fn build(&self, request: &BuildRequest, mut progress: impl FnMut(BuildEvent)) -> Result<String> {
        let context = context_tar(&request.context)?;
        let options = BuildImageOptions {
            dockerfile: request.dockerfile.clone(),
            t: Some(request.tag.clone()),
            rm: true,
            forcerm: true,
            buildargs: Some(request.args.clone().into_iter().collect()),
            labels: Some(request.labels.clone()),
            networkmode: request.host_network.then(|| "host".to_string()),
            ..Default::default()
        };
        let body = bollard::body_full(context.into());
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut tail: VecDeque<String> = VecDeque::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| {
                let message = match e {
                    // A step failed: the builder's own words, without bollard's prefix.
                    DockerError::DockerStreamError { error } => error,
                    other => engine_message(&other),
                };
                BuildFailed { message, tail: tail.iter().cloned().collect() }
            })?;
            let text = strip_ansi(&info.stream.or(info.status).unwrap_or_default());
            for line in text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
                let event = event(line);
                if matches!(event, BuildEvent::Output(_)) && !is_bookkeeping(line) {
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_string());
                }
                progress(event);
            }
        }
        let image = self.inspect_image(&request.tag).await?;
        image.map(|i| i.id).with_context(|| format!("the engine built {} but has no such image", request.tag))
    }
}

fn event(line: &str) -> BuildEvent {
    if line.starts_with("Step ") && line.contains(" : ") {
        BuildEvent::Step(line.to_string())
    } else {
        BuildEvent::Output(line.to_string())
    }
}

/// The builder's own lines about layers and containers, which explain no failure.
fn is_bookkeeping(line: &str) -> bool {
    line.starts_with(" ---> ")
        || line.starts_with("Removing intermediate container")
        || line.starts_with("Successfully ")
}

/// `text` without terminal escape sequences (the builder colours what a step writes to stderr).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_told_from_their_output() {
        assert_eq!(event("Step 2/5 : RUN pip install x"), BuildEvent::Step("Step 2/5 : RUN pip install x".into()));
        assert_eq!(event(" ---> Running in 1234"), BuildEvent::Output(" ---> Running in 1234".into()));
        assert_eq!(strip_ansi("\x1b[91mERROR: no\x1b[0m\n"), "ERROR: no\n");
        assert!(is_bookkeeping(" ---> Running in 1234") && !is_bookkeeping("ERROR: x"));
        let failed = BuildFailed { message: "returned a non-zero code: 1\n".into(), tail: vec!["ERROR: x".into()] };
        assert_eq!(failed.to_string(), "the build failed: returned a non-zero code: 1; its last lines:\n    ERROR: x");
    }
}
