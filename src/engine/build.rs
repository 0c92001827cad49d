//! Building an image from a Dockerfile through the engine's build API, with the classic builder
//! (engines as old as API 1.41 have no BuildKit session over the API): the context goes as a tar
//! of one folder, progress comes back as plain events.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context as _, Result};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use crate::engine::{Engine, describe};

/// Output lines kept to explain a failed build.
const TAIL_LINES: usize = 15;

/// One image build: what is sent and how the image is named and labelled.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The build context as a tar archive (see [`context_tar`]).
    pub context: Vec<u8>,
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
    /// Builds `request` and returns the image's ID, reporting each step and output line to
    /// `progress`. A failure is a [`BuildFailed`].
    pub async fn build(&self, request: BuildRequest, mut progress: impl FnMut(BuildEvent)) -> Result<String> {
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
        let body = bollard::body_full(request.context.into());
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut tail: VecDeque<String> = VecDeque::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| {
                let message = match e {
                    // A step failed: the builder's own words, without bollard's prefix.
                    DockerError::DockerStreamError { error } => error,
                    other => describe(&other),
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
        image.and_then(|i| i.id).with_context(|| format!("the engine built {} but has no such image", request.tag))
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

/// A tar archive of everything in `dir` (files, folders and symlinks, as they are), the build
/// context the engine receives; paths are relative to `dir`.
pub fn context_tar(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = Vec::new();
    add_folder(&mut tar, dir, "")?;
    tar.extend([0u8; 1024]); // two empty blocks end the archive
    Ok(tar)
}

fn add_folder(tar: &mut Vec<u8>, dir: &Path, prefix: &str) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            tar.extend(header(&name, b'2', mode, 0, mtime, &target.to_string_lossy())?);
        } else if meta.is_dir() {
            tar.extend(header(&format!("{name}/"), b'5', mode, 0, mtime, "")?);
            add_folder(tar, &path, &format!("{name}/"))?;
        } else if meta.is_file() {
            let data = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            tar.extend(header(&name, b'0', mode, data.len() as u64, mtime, "")?);
            tar.extend(&data);
            tar.resize(tar.len().next_multiple_of(512), 0);
        }
        // Sockets, fifos and devices have no place in a build context.
    }
    Ok(())
}

/// One ustar header block; a name over 100 bytes is split into the prefix field at a `/`.
fn header(name: &str, kind: u8, mode: u32, size: u64, mtime: u64, link: &str) -> Result<[u8; 512]> {
    let (prefix, short) = split_name(name).with_context(|| format!("`{name}` is too long for the build context"))?;
    anyhow::ensure!(link.len() <= 100, "the link target of `{name}` is too long for the build context");
    let mut block = [0u8; 512];
    let mut put = |offset: usize, field: &[u8]| block[offset..offset + field.len()].copy_from_slice(field);
    put(0, short.as_bytes());
    put(100, format!("{mode:07o}\0").as_bytes());
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{size:011o}\0").as_bytes());
    put(136, format!("{mtime:011o}\0").as_bytes());
    put(148, b"        "); // the checksum counts itself as spaces
    put(156, &[kind]);
    put(157, link.as_bytes());
    put(257, b"ustar\0");
    put(263, b"00");
    put(345, prefix.as_bytes());
    let checksum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    Ok(block)
}

fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    // The split must fall on a `/` with at most 155 bytes before it and 100 after.
    let trimmed = name.trim_end_matches('/');
    let (at, _) = trimmed.char_indices().rfind(|(i, c)| *c == '/' && *i <= 155)?;
    let (prefix, rest) = (&name[..at], &name[at + 1..]);
    (rest.len() <= 100 && !rest.is_empty()).then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, type, size, link) of each entry, read back as an engine would.
    fn entries(tar: &[u8]) -> Vec<(String, u8, usize, String)> {
        let text = |field: &[u8]| String::from_utf8_lossy(field).trim_end_matches('\0').to_string();
        let mut out = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let block = &tar[at..at + 512];
            let size = usize::from_str_radix(text(&block[124..135]).trim(), 8).unwrap();
            let stored = u32::from_str_radix(text(&block[148..154]).trim(), 8).unwrap();
            let mut blank = block.to_vec();
            blank[148..156].copy_from_slice(b"        ");
            assert_eq!(
                stored,
                blank.iter().map(|&b| u32::from(b)).sum::<u32>(),
                "checksum of {:?}",
                text(&block[..100])
            );
            let prefix = text(&block[345..500]);
            let name =
                if prefix.is_empty() { text(&block[..100]) } else { format!("{prefix}/{}", text(&block[..100])) };
            out.push((name, block[156], size, text(&block[157..257])));
            at += 512 + size.next_multiple_of(512);
        }
        assert_eq!(&tar[at..], &[0u8; 1024][..], "two empty blocks end it");
        out
    }

    #[test]
    fn the_context_holds_the_folder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/requirements.txt"), "a==1\n").unwrap();
        std::os::unix::fs::symlink("sub/requirements.txt", dir.path().join("link")).unwrap();
        let deep = format!("{}/{}", "d".repeat(90), "f".repeat(60));
        fs::create_dir(dir.path().join("d".repeat(90))).unwrap();
        fs::write(dir.path().join(&deep), "x").unwrap();
        let tar = context_tar(dir.path()).unwrap();
        let found = entries(&tar);
        let names: Vec<(&str, u8)> = found.iter().map(|(n, k, _, _)| (n.as_str(), *k)).collect();
        let dir_d = format!("{}/", "d".repeat(90));
        assert_eq!(
            names,
            [
                ("Dockerfile", b'0'),
                (dir_d.as_str(), b'5'),
                (deep.as_str(), b'0'),
                ("link", b'2'),
                ("sub/", b'5'),
                ("sub/requirements.txt", b'0')
            ]
        );
        assert_eq!(found[0].2, 7);
        assert_eq!(found[3].3, "sub/requirements.txt");
        let start = tar.windows(7).position(|w| w == b"FROM x\n").unwrap();
        assert_eq!(start % 512, 0, "file data starts on a block");
    }

    #[test]
    fn names_too_long_for_ustar_are_refused() {
        assert!(split_name(&"a".repeat(101)).is_none());
        assert_eq!(split_name("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "p".repeat(150), "n".repeat(100));
        assert_eq!(split_name(&long), Some((&long[..150], &long[151..])));
        assert!(header(&format!("{}/{}", "p".repeat(150), "n".repeat(101)), b'0', 0o644, 0, 0, "").is_err());
    }

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
