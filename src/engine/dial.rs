//! The connection to an ssh engine, made as the docker CLI makes it: each HTTP connection is
//! `ssh [-p PORT] [user@]host docker system dial-stdio`, spoken over the client's stdin and
//! stdout. Every ssh runs only as long as its connection: it is killed when the connection is
//! dropped (also when jenv's runtime ends), and ends by itself when jenv dies, as its stdin closes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::engine::endpoint::SshTarget;

/// How long ssh may take to exit after its stdout closed before the connection counts as
/// closed anyway (it normally exits at once: dial-stdio ends with the engine's connection).
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// An HTTP client whose connections are ssh processes running `docker system dial-stdio`.
pub fn client<B>(target: SshTarget) -> Client<Dialer, B>
where
    B: hyper::body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build(Dialer { target })
}

/// The command line of one connection, as the docker CLI's `connhelper` builds it.
pub fn command(target: &SshTarget) -> Vec<String> {
    let mut args: Vec<String> = ["-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T"].map(String::from).into();
    args.extend(target.args());
    args.extend(["docker", "system", "dial-stdio"].map(String::from));
    args
}

#[derive(Clone)]
pub struct Dialer {
    target: SshTarget,
}

impl tower_service::Service<Uri> for Dialer {
    type Response = TokioIo<DialStdio>;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<TokioIo<DialStdio>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        std::future::ready(DialStdio::spawn(&self.target).map(TokioIo::new))
    }
}

/// One ssh process as a byte stream: writes go to its stdin, reads come from its stdout.
pub struct DialStdio {
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// Why ssh failed, once it has exited (`None` when it exited cleanly).
    ended: oneshot::Receiver<Option<String>>,
    /// Started when stdout closes: how long to wait for `ended`.
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Dropped with the connection, which ends the task that owns (and then kills) ssh.
    _dropped: oneshot::Sender<()>,
}

impl DialStdio {
    fn spawn(target: &SshTarget) -> io::Result<DialStdio> {
        let mut child = Command::new("ssh")
            .args(command(target))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C in the terminal interrupts jenv, which may still need
            // the engine to clean up, not the engine connection.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh to reach the engine: {e}")))?;
        let (stdin, stdout, mut stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(stdin), Some(stdout), Some(stderr)) => (stdin, stdout, stderr),
            _ => return Err(io::Error::other("ssh started without its pipes")),
        };
        let (ended_tx, ended) = oneshot::channel();
        let (_dropped, dropped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let exited = async {
                let mut said = String::new();
                let _ = stderr.read_to_string(&mut said).await;
                (child.wait().await, said)
            };
            tokio::select! {
                (status, said) = exited => {
                    let failure = match status {
                        Ok(status) if status.success() => None,
                        Ok(status) => Some(format!("ssh ended ({status}): {}", said.trim())),
                        Err(e) => Some(format!("ssh ended: {e}")),
                    };
                    let _ = ended_tx.send(failure);
                }
                // The connection is gone: dropping `child` here kills ssh.
                _ = dropped => {}
            }
        });
        Ok(DialStdio { stdin, stdout, ended, grace: None, _dropped })
    }
}

impl AsyncRead for DialStdio {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stdout).poll_read(cx, buf))?;
        if buf.filled().len() > before || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // End of stream: when ssh failed (a refused login, no docker there), say what it said
        // rather than only that the connection closed.
        if let Poll::Ready(failure) = Pin::new(&mut this.ended).poll(cx) {
            return Poll::Ready(match failure {
                Ok(Some(failure)) => Err(io::Error::other(failure)),
                _ => Ok(()),
            });
        }
        let grace = this.grace.get_or_insert_with(|| Box::pin(tokio::time::sleep(EXIT_GRACE)));
        ready!(grace.as_mut().poll(cx));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for DialStdio {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

impl Connection for DialStdio {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_the_docker_clis_with_the_port() {
        let target = SshTarget { destination: "me@box".into(), port: Some(2222) };
        assert_eq!(
            command(&target).join(" "),
            "-o ConnectTimeout=30 -o BatchMode=yes -T -p 2222 -- me@box docker system dial-stdio"
        );
        let target = SshTarget { destination: "box".into(), port: None };
        assert!(command(&target).join(" ").ends_with("-T -- box docker system dial-stdio"));
    }
}
