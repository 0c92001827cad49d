//! A running `jenv watch --json` for tests (with `--yes` unless told otherwise), read event by event.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;

/// A running `jenv watch --yes --json`, read event by event; stopped with Ctrl-C on drop.
pub struct Watch {
    child: Child,
    events: Receiver<Value>,
}

impl Watch {
    pub fn start(sandbox: &Sandbox, project: &Path) -> Watch {
        Watch::start_with(sandbox, project, &["watch", "--yes", "--json"])
    }

    /// `jenv watch --yes --json` with more variables set.
    pub fn start_env(sandbox: &Sandbox, project: &Path, env: &[(&str, &str)]) -> Watch {
        Watch::spawn(sandbox, project, &["watch", "--yes", "--json"], env)
    }

    /// `jenv ARGS` (a `watch ... --json` command line), read the same way.
    pub fn start_with(sandbox: &Sandbox, project: &Path, args: &[&str]) -> Watch {
        Watch::spawn(sandbox, project, args, &[])
    }

    fn spawn(sandbox: &Sandbox, project: &Path, args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut command = sandbox.command(project, args);
        command.envs(env.iter().copied());
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}")));
            }
        });
        let watch = Watch { child, events };
        watch.expect("watching", Duration::from_secs(30));
        watch
    }

    /// Waits for the next event named `name`, passing over any others.
    #[track_caller]
    pub fn expect(&self, name: &str, timeout: Duration) -> Value {
        self.next_named(name, timeout).0
    }

    /// Every event before the next one named `name` (a marker the test causes), which must come
    /// within `timeout`: what happened in between, without guessing how long to listen.
    #[track_caller]
    pub fn until(&self, name: &str, timeout: Duration) -> Vec<Value> {
        self.next_named(name, timeout).1
    }

    /// The next event named `name`, and the others seen before it.
    #[track_caller]
    fn next_named(&self, name: &str, timeout: Duration) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if event["event"] == name => return (event, seen),
                Ok(event) => seen.push(event),
                Err(RecvTimeoutError::Timeout) => panic!("no `{name}` within {timeout:?}; saw {seen:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the watcher exited; saw {seen:?}"),
            }
        }
    }

    /// Every event in the next `quiet` period.
    pub fn drain(&self, quiet: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Ok(event) = self.events.recv_timeout(quiet) {
            events.push(event);
        }
        events
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
    }
}
