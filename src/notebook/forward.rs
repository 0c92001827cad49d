//! Ports of a notebook on an ssh engine: the container publishes them on the remote host's
//! loopback, so jenv opens and owns an ssh local forward for each
//! (`ssh -N -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE host`) and the URL it prints uses LOCAL. The
//! forward outlives `jenv up` (it is the notebook's way in) and `jenv down` closes it. Its pid and
//! ports are kept in `forwards/NAME.json` (0600).

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio::time::Instant;

use crate::engine::endpoint::SshTarget;
use crate::error::Hinted;
use crate::state::files::{private_dir, read_text, remove_if_exists, write_atomic};
use crate::state::{StateDir, Sub};

/// How long an ssh forward may take to listen.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub pid: u32,
    /// The `ssh://` engine address it goes through.
    pub engine: String,
    /// By port name.
    pub ports: BTreeMap<String, ForwardedPort>,
}

/// A port on the engine's host (where the notebook publishes it) and the local port that reaches
/// it. Kept in `forwards/NAME.json` as `[remote, local]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u16, u16)", into = "(u16, u16)")]
pub struct ForwardedPort {
    pub remote: u16,
    pub local: u16,
}

impl From<(u16, u16)> for ForwardedPort {
    fn from((remote, local): (u16, u16)) -> ForwardedPort {
        ForwardedPort { remote, local }
    }
}

impl From<ForwardedPort> for (u16, u16) {
    fn from(port: ForwardedPort) -> (u16, u16) {
        (port.remote, port.local)
    }
}

impl Forward {
    /// The local port that reaches remote host port `remote`.
    pub fn local_port(&self, remote: u16) -> Option<u16> {
        self.ports.values().find(|port| port.remote == remote).map(|port| port.local)
    }
}

pub struct Forwards {
    dir: PathBuf,
}

impl Forwards {
    pub fn new(state: &StateDir) -> Forwards {
        Forwards { dir: state.sub(Sub::Forwards) }
    }

    /// The live forward of container `name` through `engine` for exactly `ports` (name ->
    /// remote port), opening a new one (and closing a stale one) when there is none.
    pub async fn ensure(&self, name: &str, engine: &str, ports: &BTreeMap<String, u16>) -> Result<Forward> {
        if let Some(forward) = self.live(name)? {
            let same = forward.engine == engine
                && forward.ports.len() == ports.len()
                && ports.iter().all(|(port, remote)| forward.ports.get(port).map(|p| p.remote) == Some(*remote));
            if same {
                return Ok(forward);
            }
            self.close(name)?;
        }
        private_dir(&self.dir)?;
        let forward = open(engine, ports, &self.dir.join(format!("{name}.log"))).await?;
        write_atomic(&self.path(name), serde_json::to_string(&forward)?.as_bytes())?;
        Ok(forward)
    }

    /// The recorded forward of `name` when its ssh process still runs.
    pub fn live(&self, name: &str) -> Result<Option<Forward>> {
        let Some(text) = read_text(&self.path(name))? else { return Ok(None) };
        let Ok(forward) = serde_json::from_str::<Forward>(&text) else { return Ok(None) };
        Ok(is_our_ssh(forward.pid).then_some(forward))
    }

    /// Ends the forward of `name`, if any.
    pub fn close(&self, name: &str) -> Result<()> {
        if let Some(forward) = self.live(name)? {
            // SAFETY: kill has no memory preconditions; the pid was checked to be our ssh.
            unsafe { libc::kill(forward.pid as i32, libc::SIGTERM) };
        }
        remove_if_exists(&self.path(name))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }
}

/// Starts `ssh -N` with one `-L` per port, in its own session so it outlives jenv, and waits
/// (without holding up the runtime) until every local port accepts connections.
async fn open(engine: &str, ports: &BTreeMap<String, u16>, log: &Path) -> Result<Forward> {
    let target = SshTarget::parse(engine)?;
    let mut mapped = BTreeMap::new();
    let mut command = Command::new("ssh");
    command.args(["-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"]);
    for (name, remote) in ports {
        let local = free_local_port()?;
        command.arg("-L").arg(format!("127.0.0.1:{local}:127.0.0.1:{remote}"));
        mapped.insert(name.clone(), ForwardedPort { remote: *remote, local });
    }
    command.args(target.args());
    // ssh's messages may name hosts and users: the log is private, as its folder is.
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(log)
        .with_context(|| format!("cannot write {}", log.display()))?;
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
    // SAFETY: setsid is async-signal-safe; it detaches ssh from jenv's terminal and process group,
    // so Ctrl-C on a later command does not close the notebook's way in.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        Hinted::new(format!("cannot run ssh for the notebook's port forward: {e}"), "install an ssh client (openssh)")
    })?;
    let pid = child.id().context("ssh exited as it started")?;
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    loop {
        ticks.tick().await;
        if let Some(status) = child.try_wait()? {
            let said = std::fs::read_to_string(log).unwrap_or_default();
            return Err(Hinted::new(
                format!("ssh could not forward the notebook's ports from {engine} ({status}): {}", said.trim()),
                "check that `ssh` reaches the engine's host without a password prompt (an agent or a key)",
            )
            .into());
        }
        if all_listen(&mapped).await {
            return Ok(Forward { pid, engine: engine.to_string(), ports: mapped });
        }
        if Instant::now() >= deadline {
            let _ = child.kill().await;
            anyhow::bail!(
                "ssh did not open the notebook's port forward from {engine} within {}s",
                OPEN_TIMEOUT.as_secs()
            );
        }
    }
}

/// Whether every local end of the forward accepts a connection.
async fn all_listen(mapped: &BTreeMap<String, ForwardedPort>) -> bool {
    for port in mapped.values() {
        if tokio::net::TcpStream::connect(("127.0.0.1", port.local)).await.is_err() {
            return false;
        }
    }
    true
}

fn free_local_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether `pid` is an ssh process (not a reused pid of something else). Without /proc (macOS)
/// only whether it is alive.
fn is_our_ssh(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        // SAFETY: signal 0 only checks that the process exists.
        return i32::try_from(pid).is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| cmdline.split(|b| *b == 0).next().is_some_and(|argv0| argv0.ends_with(b"ssh")))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forward_file_keeps_its_format() {
        let text = r#"{"pid":7,"engine":"ssh://h","ports":{"jupyter":[8890,40001]}}"#;
        let forward: Forward = serde_json::from_str(text).unwrap();
        assert_eq!(forward.local_port(8890), Some(40001));
        assert_eq!(serde_json::to_string(&forward).unwrap(), text);
    }

    #[test]
    fn a_dead_or_foreign_pid_is_no_forward() {
        assert!(!is_our_ssh(u32::MAX));
        assert!(!is_our_ssh(std::process::id()), "the test binary is not ssh");
    }
}
