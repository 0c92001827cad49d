//! jenv on Podman's Docker-compatible API (rootful; Debian's podman 4.3): the test starts its own
//! `podman system service` on a socket in a temp folder and stops it when done, also on failure.
//! Skipped, loudly, where podman is not installed or the tests do not run as root;
//! `scripts/test.sh` installs it when it can.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::kernel::run_cell;
use common::{NotebookUrl, STACKS_IMAGE, Sandbox, eventually, is_root, make_wheel, test_image};

#[test]
fn lifecycle_and_snapshots_on_podman() {
    let Some(podman) = PodmanService::start() else { return };
    assert!(podman.load(&test_image()), "test image {} is missing: run scripts/test.sh", test_image());
    let sandbox = podman.sandbox(&test_image(), "19100-19149");
    let project = sandbox.project("pod");

    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(run_cell(&url, "print(6 * 7)").stdout.trim(), "42", "a kernel answers through Podman's port");
    let status = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(status.contains(&format!("engine:    {} (DOCKER_HOST, Podman)", podman.host())), "{status}");

    let wheel = make_wheel(&sandbox, &project, "jenv_pod", "1.0");
    let pip = ["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet", &wheel];
    sandbox.jenv(&project, &pip).success();
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "+ jenv-pod 1.0 (pip)\n");
    // `top` on Podman: its containers' cgroups, its Jupyter, the install counted.
    let top: serde_json::Value =
        serde_json::from_str(&sandbox.jenv(&project, &["top", "--json"]).success().stdout()).unwrap();
    let mine = top.as_array().unwrap().iter().find(|e| e["folder"] == project.to_str().unwrap()).unwrap();
    assert!(mine["memory"]["used_bytes"].as_u64().unwrap() > 10_000_000, "{mine}");
    assert_eq!(
        (&mine["changes"], &mine["oom_kills"], &mine["kernels"]["busy"]),
        (&1.into(), &0.into(), &0.into()),
        "{mine}"
    );

    let snapshot = sandbox.jenv(&project, &["snapshot", "-m", "pod installed", "--json"]).success().stdout();
    let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    let tag = snapshot["tag"].as_str().unwrap().to_string();
    let flat = sandbox.jenv(&project, &["snapshot", "--flatten", "-m", "flat", "--json"]).success().stdout();
    let flat: serde_json::Value = serde_json::from_str(&flat).unwrap();
    let flat_tag = flat["tag"].as_str().unwrap().to_string();

    let history = sandbox.jenv(&project, &["history"]).success().stdout();
    assert!(history.contains(&tag) && history.contains("pod installed"), "{history}");
    assert!(history.contains(&flat_tag) && history.contains("flat"), "{history}");
    assert!(!history.contains("1970-01-01"), "Podman kept the snapshot labels: {history}");

    sandbox.jenv(&project, &["down"]).success();
    let again = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(again, url, "same port and token after down/up");
    let code = "import jenv_pod; print(jenv_pod.VERSION)";
    assert_eq!(sandbox.jenv(&project, &["exec", "--", "python3", "-c", code]).success().stdout().trim(), "1.0");
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "", "nothing pending after up from the snapshot");
    let config = sandbox.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.User}} {{json .Config.Entrypoint}}",
        "jenv-test/notebook:bookworm",
    ]);
    let snapshot_config = sandbox.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.User}} {{json .Config.Entrypoint}}",
        &format!("{}:latest", repository(&project)),
    ]);
    assert_eq!(snapshot_config, config, "the snapshot runs like its image, not like the container");

    sandbox.jenv(&project, &["rollback", &tag]).success();
    let history = sandbox.jenv(&project, &["history"]).success().stdout();
    let current = history.lines().find(|l| l.starts_with('*')).unwrap_or_default();
    assert!(current.contains(&tag), "{history}");
    sandbox.jenv(&project, &["down"]).success();
}

/// The docker-stacks start script on Podman: jenv runs it as root, it switches to the host user
/// (root here), and an install into /opt/conda survives a snapshot.
#[test]
fn docker_stacks_image_on_podman() {
    let Some(podman) = PodmanService::start() else { return };
    if !podman.load(STACKS_IMAGE) {
        eprintln!("\n*** SKIPPED: {STACKS_IMAGE} is not built (scripts/build-stacks-fixture.sh) ***\n");
        return;
    }
    let sandbox = podman.sandbox(STACKS_IMAGE, "19150-19199");
    let project = sandbox.project("stacks");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(url.ui, "lab");
    assert_eq!(run_cell(&url, "import os; print(os.getcwd())").stdout.trim(), "/home/jovyan/work");

    let wheel = make_wheel(&sandbox, &project, "jenv_stacks", "2.0");
    let pip = ["exec", "--", "python", "-m", "pip", "install", "--no-index", "--quiet", &wheel];
    sandbox.jenv(&project, &pip).success();
    sandbox.jenv(&project, &["snapshot", "-m", "stacks"]).success();
    sandbox.jenv(&project, &["down"]).success();
    let again = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    let output = run_cell(&again, "import jenv_stacks; print(jenv_stacks.VERSION)");
    assert_eq!(output.stdout.trim(), "2.0", "{:?}", output.error);
    sandbox.jenv(&project, &["down"]).success();
}

fn repository(project: &Path) -> String {
    let manifest = std::fs::read_to_string(project.join(".jupyter-env")).unwrap();
    let line = manifest.lines().find(|l| l.starts_with("repository")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// A rootful `podman system service` on a socket of its own, stopped on drop.
struct PodmanService {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl PodmanService {
    /// `None`, said loudly, where Podman cannot run here.
    fn start() -> Option<PodmanService> {
        if Command::new("podman").arg("--version").output().is_err() {
            eprintln!("\n*** SKIPPED: podman is not installed (scripts/test.sh installs it as root) ***\n");
            return None;
        }
        if !is_root() {
            eprintln!("\n*** SKIPPED: the Podman test runs a rootful service and needs root ***\n");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0", &format!("unix://{}", socket.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let service = PodmanService { child, socket, _dir: dir };
        eventually("podman's socket answers", Duration::from_secs(30), || {
            std::os::unix::net::UnixStream::connect(&service.socket).is_ok()
        });
        Some(service)
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A sandbox on this service. Its own port range keeps it off the ports Docker notebooks of
    /// other tests lease: once, a Podman notebook on a port a Docker one had used never answered.
    fn sandbox(&self, image: &str, ports: &str) -> Sandbox {
        let host = self.host();
        let env = [("DOCKER_HOST", Some(host.as_str())), ("DOCKER_CONTEXT", None), ("JENV_PORT_RANGE", Some(ports))];
        Sandbox::with_env(image, None, &env)
    }

    /// Copies `image` from Docker into Podman's own store, once; `false` when Docker has none.
    fn load(&self, image: &str) -> bool {
        if Command::new("podman").args(["image", "exists", image]).status().unwrap().success() {
            return true;
        }
        if !Command::new("docker").args(["image", "inspect", image]).output().unwrap().status.success() {
            return false;
        }
        let mut save = Command::new("docker").args(["save", image]).stdout(Stdio::piped()).spawn().unwrap();
        let load = Command::new("podman").args(["load", "-q"]).stdin(save.stdout.take().unwrap()).output().unwrap();
        assert!(save.wait().unwrap().success() && load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
        true
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
