//! One harness for every integration test: a private temp tree and JENV_HOME, the real binary,
//! the real engine and the offline test image, and clean-up by label even when a test fails.

#![allow(dead_code)]

pub mod kernel;
pub mod registry;
pub mod sshd;
pub mod terminal;
pub mod watcher;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const DEFAULT_TEST_IMAGE: &str = "jenv-test/notebook:bookworm";

/// A block of 20 host ports for one sandbox, between 20000 and 29999 (below the kernel's
/// ephemeral range), held while the sandbox lives: a lock file per block, so test processes
/// running side by side never share one.
fn port_block() -> ((u16, u16), std::fs::File) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // One place for every test process on the machine, whatever its TMPDIR.
    let dir = std::path::Path::new("/tmp/jenv-test-port-blocks");
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o1777));
    let start =
        std::process::id().wrapping_mul(37).wrapping_add(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    for i in 0..500 {
        let slot = (start.wrapping_add(i) % 500) as u16;
        let path = dir.join(slot.to_string());
        let Ok(file) = std::fs::File::options().create(true).truncate(false).write(true).open(&path) else { continue };
        let _ = std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666));
        if file.try_lock().is_ok() {
            let low = 20000 + slot * 20;
            return ((low, low + 19), file);
        }
    }
    panic!("every test port block in {} is held", dir.display());
}

/// Waits while scripts/prepare-tests.sh is still building images (it holds its lock files
/// meanwhile), so a test that needs an image not yet built waits for it instead of failing.
fn wait_for_preparation() {
    let tmp = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".to_string());
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    for part in ["first", "stacks"] {
        let path = std::path::Path::new(&tmp).join(format!("jenv-prepare-tests.{uid}.{part}.lock"));
        if let Ok(file) = std::fs::File::open(&path) {
            let _ = file.lock_shared();
        }
    }
}

pub fn test_image() -> String {
    std::env::var("JENV_TEST_IMAGE").unwrap_or_else(|_| DEFAULT_TEST_IMAGE.to_string())
}

pub const STACKS_IMAGE: &str = "jenv-fixture/base-notebook:bookworm";

pub struct Sandbox {
    dir: tempfile::TempDir,
    pub home: PathBuf,
    /// The image `project` writes into manifests.
    pub image: String,
    /// Runs jenv as this host uid (and gid) instead of ours; needs root.
    pub uid: Option<u32>,
    /// Variables set (`Some`) or removed (`None`) for jenv and for the harness's own `docker`
    /// commands, e.g. another engine's `DOCKER_HOST` or a private `DOCKER_CONFIG`.
    env: Vec<(String, Option<String>)>,
    /// This sandbox's own host ports (`JENV_PORT_RANGE`), so that a port one test frees is not
    /// taken by another test's notebook before the first test's next `up` (same URL after down/up).
    pub ports: (u16, u16),
    _ports_held: std::fs::File,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::for_image(&test_image(), None)
    }

    /// A sandbox whose projects use `image`, with jenv run as host user `uid` (through
    /// `setpriv`, with the Docker socket's group) when given.
    pub fn for_image(image: &str, uid: Option<u32>) -> Sandbox {
        Sandbox::with_env(image, uid, &[])
    }

    /// A sandbox whose jenv runs and clean-up see `env` (`None` removes a variable), so both
    /// reach the same engine: `DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`.
    pub fn with_env(image: &str, uid: Option<u32>, env: &[(&str, Option<&str>)]) -> Sandbox {
        let env: Vec<(String, Option<String>)> =
            env.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
        let present = || apply_env(Command::new("docker"), &env).args(["image", "inspect", image]).output().unwrap();
        if !present().status.success() {
            wait_for_preparation();
        }
        assert!(present().status.success(), "test image {image} is missing: run scripts/test.sh, which builds it");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("jenv-home");
        if let Some(uid) = uid {
            // The other user must reach its folders: the temp root is private to us otherwise.
            std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            std::fs::create_dir(&home).unwrap();
            std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
        }
        let (ports, _ports_held) = port_block();
        Sandbox { dir, home, image: image.to_string(), uid, env, ports, _ports_held }
    }

    /// `docker` on the sandbox's engine.
    pub fn docker_command(&self) -> Command {
        apply_env(Command::new("docker"), &self.env)
    }

    /// Runs `docker args` on the sandbox's engine and returns its stdout; fails the test if it fails.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_command().args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The uid jenv runs as in this sandbox.
    pub fn host_uid(&self) -> u32 {
        // SAFETY: getuid has no preconditions.
        self.uid.unwrap_or_else(|| unsafe { libc::getuid() })
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// A folder with a manifest for the sandbox's image, owned by the sandbox's user.
    pub fn project(&self, name: &str) -> PathBuf {
        let folder = self.root().join(name);
        std::fs::create_dir_all(&folder).unwrap();
        if let Some(uid) = self.uid {
            std::os::unix::fs::chown(&folder, Some(uid), Some(uid)).unwrap();
        }
        self.jenv(&folder, &["init", "--image", &self.image]).success();
        folder
    }

    /// Edits the folder's manifest by hand, then trusts it as its user would after reading it.
    pub fn edit_manifest(&self, project: &Path, edit: impl FnOnce(String) -> String) {
        let path = project.join(".jupyter-env");
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
        self.jenv(project, &["trust"]).success();
    }

    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let jenv = env!("CARGO_BIN_EXE_jenv");
        let mut command = match self.uid {
            None => Command::new(jenv),
            Some(uid) => {
                let mut command = Command::new("setpriv");
                let groups = format!("--groups={}", docker_socket_gid());
                command.args([format!("--reuid={uid}"), format!("--regid={uid}"), groups]).arg(jenv);
                command.env("HOME", &self.home);
                command
            }
        };
        // The user's own config and overrides stay out: each sandbox is a fresh user.
        command
            .args(args)
            .current_dir(dir)
            .env("JENV_HOME", &self.home)
            .env("JENV_CONFIG", self.home.join("config.toml"))
            .env("JENV_PORT_RANGE", format!("{}-{}", self.ports.0, self.ports.1))
            .env_remove("JENV_DEFAULT_IMAGE")
            .env_remove("JENV_TRUST_ALL");
        apply_env(command, &self.env)
    }

    pub fn jenv(&self, dir: &Path, args: &[&str]) -> Run {
        Run(self.command(dir, args).output().unwrap())
    }

    /// Starts a foreground `jenv up ...` (e.g. `--attach`) and waits for the URL line it prints
    /// once the notebook answers; the rest of its stdout stays unread in the child.
    pub fn spawn_up(&self, dir: &Path, args: &[&str]) -> (std::process::Child, NotebookUrl) {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = self.command(dir, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        child.stdout = Some(stdout.into_inner());
        (child, NotebookUrl::parse(&first))
    }

    /// IDs of the containers this sandbox's jenv created.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=jenv.home={}", self.home.display());
        let out = self.docker_command().args(["ps", "-aq", "--filter", &filter]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_string).collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // jenv's ssh forwards outlive the command that opened them; a failed test leaves them.
        for entry in std::fs::read_dir(self.home.join("forwards")).into_iter().flatten().flatten() {
            let forward: Option<serde_json::Value> =
                std::fs::read_to_string(entry.path()).ok().and_then(|text| serde_json::from_str(&text).ok());
            if let Some(pid) = forward.and_then(|f| f["pid"].as_i64()) {
                // SAFETY: kill has no memory preconditions; the pid is the forward jenv recorded.
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
        }
        let ids = self.containers();
        if !ids.is_empty() {
            let _ = self.docker_command().args(["rm", "-f", "-v"]).args(&ids).output();
        }
        // A snapshot taken from a snapshot is its child, and the engine removes no image that has
        // children (not even with -f): remove what can go, then look again, until nothing is left
        // or nothing more goes.
        let filter = format!("label=jenv.home={}", self.home.display());
        let mut left = usize::MAX;
        loop {
            let Ok(out) = self.docker_command().args(["images", "-q", "--filter", &filter]).output() else { break };
            let images: BTreeSet<String> =
                String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect();
            if images.is_empty() || images.len() >= left {
                break;
            }
            left = images.len();
            for image in &images {
                let _ = self.docker_command().args(["rmi", "-f", image]).output();
            }
        }
    }
}

/// Docker commands run when a test ends, passing or failing: for what a test makes by hand,
/// outside any sandbox's labels (a container, a tag).
#[derive(Default)]
pub struct Cleanup(Vec<Vec<String>>);

impl Cleanup {
    pub fn docker(&mut self, args: &[&str]) {
        self.0.push(args.iter().map(|a| a.to_string()).collect());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in self.0.iter().rev() {
            let _ = Command::new("docker").args(args).output();
        }
    }
}

fn apply_env(mut command: Command, env: &[(String, Option<String>)]) -> Command {
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

/// Writes a minimal pure-Python wheel into the project from inside the notebook (so the host
/// needs no Python) and returns its path relative to the project folder.
pub fn make_wheel(sandbox: &Sandbox, project: &Path, name: &str, version: &str) -> String {
    let relative = format!("dist/{name}-{version}-py3-none-any.whl");
    sandbox.jenv(project, &["exec", "--", "python3", "-c", MAKE_WHEEL, name, version, &relative]).success();
    relative
}

/// Shared with `benches/snapshot.sh`.
const MAKE_WHEEL: &str = include_str!("../data/make_wheel.py");

/// A finished jenv run with assertions that print everything it said when they fail.
pub struct Run(pub Output);

impl Run {
    /// Runs a command built with [`Sandbox::command`] and its extra settings.
    pub fn from_command(command: &mut Command) -> Run {
        Run(command.output().unwrap())
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).to_string()
    }

    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert!(
            self.0.status.success(),
            "jenv failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn failure(self) -> Run {
        assert!(
            !self.0.status.success(),
            "jenv should have failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        assert_ne!(self.code(), Some(101), "a panic is never an answer:\n{}", self.stderr());
        self
    }
}

/// A notebook URL split into what tests need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookUrl {
    pub port: u16,
    /// The UI it opens: `lab`, `tree`, or empty.
    pub ui: String,
    pub token: String,
}

impl NotebookUrl {
    #[track_caller]
    pub fn parse(text: &str) -> NotebookUrl {
        let line = text.trim();
        let rest = line.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| panic!("not a loopback URL: {line:?}"));
        let (port, rest) = rest.split_once('/').unwrap_or_else(|| panic!("no path in {line:?}"));
        let (ui, token) = rest.split_once("?token=").unwrap_or_else(|| panic!("no token in {line:?}"));
        NotebookUrl { port: port.parse().unwrap(), ui: ui.to_string(), token: token.to_string() }
    }
}

/// A minimal HTTP/1.0 exchange, so tests need no HTTP client crate.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Polls `check` until it holds or the deadline passes.
pub fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The group that may use the Docker socket, given to jenv runs as other users.
pub fn docker_socket_gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/var/run/docker.sock").map(|m| m.gid()).unwrap_or(0)
}

/// True when the tests run as root, so they can run jenv as other users.
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A loopback port no program listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
