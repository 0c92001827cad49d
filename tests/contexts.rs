//! Docker contexts, as the docker CLI resolves them: a context whose endpoint is a socket at a
//! non-default path (a proxy to the real engine), chosen by DOCKER_CONTEXT or by `currentContext`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{NotebookUrl, Run, Sandbox, http, test_image};

const CONTEXT: &str = "jenv-test-ctx";
const ENGINE_SOCKET: &str = "/var/run/docker.sock";

#[test]
fn up_follows_docker_context_and_the_current_context() {
    let config = tempfile::tempdir().unwrap();
    let proxy = SocketProxy::start(&config.path().join("engine.sock"));
    write_context(config.path(), CONTEXT, &format!("unix://{}", proxy.path.display()));
    let config_dir = config.path().to_str().unwrap();
    let sandbox = Sandbox::with_env(
        &test_image(),
        None,
        &[("DOCKER_HOST", None), ("DOCKER_CONTEXT", None), ("DOCKER_CONFIG", Some(config_dir))],
    );
    let project = sandbox.project("ctx");

    let up = Run::from_command(sandbox.command(&project, &["up"]).env("DOCKER_CONTEXT", CONTEXT)).success();
    assert_answers(&NotebookUrl::parse(&up.stdout()));
    let status = Run::from_command(sandbox.command(&project, &["status"]).env("DOCKER_CONTEXT", CONTEXT)).success();
    let engine = format!("engine:    unix://{} (context {CONTEXT})", proxy.path.display());
    assert!(status.stdout().contains(&engine), "{}", status.stdout());
    assert!(proxy.connections() > 0, "jenv went through the context's socket");
    Run::from_command(sandbox.command(&project, &["down"]).env("DOCKER_CONTEXT", CONTEXT)).success();

    std::fs::write(config.path().join("config.json"), format!(r#"{{"currentContext": "{CONTEXT}"}}"#)).unwrap();
    let before = proxy.connections();
    let up = sandbox.jenv(&project, &["up"]).success();
    assert_answers(&NotebookUrl::parse(&up.stdout()));
    assert!(proxy.connections() > before, "jenv followed currentContext to the context's socket");
    sandbox.jenv(&project, &["down"]).success();
}

#[test]
fn a_missing_context_is_a_clear_error() {
    let config = tempfile::tempdir().unwrap();
    let config_dir = config.path().to_str().unwrap();
    let sandbox = Sandbox::new();
    let project = sandbox.project("nocontext");
    let out = Run::from_command(
        sandbox
            .command(&project, &["up"])
            .env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", config_dir)
            .env("DOCKER_CONTEXT", "jenv-no-such-ctx"),
    )
    .failure();
    let err = out.stderr();
    assert!(
        err.contains("error: DOCKER_CONTEXT names the Docker context `jenv-no-such-ctx`, which does not exist"),
        "{err}"
    );
    assert!(err.contains("hint: unset DOCKER_CONTEXT or set it to a context that `docker context ls` lists"), "{err}");
    assert!(sandbox.containers().is_empty());

    std::fs::write(config.path().join("config.json"), r#"{"currentContext": "jenv-gone"}"#).unwrap();
    let out = Run::from_command(
        sandbox.command(&project, &["status"]).env_remove("DOCKER_HOST").env("DOCKER_CONFIG", config_dir),
    )
    .failure();
    assert!(out.stderr().contains("names the Docker context `jenv-gone`, which does not exist"), "{}", out.stderr());
    assert!(out.stderr().contains("hint: switch with `docker context use default`"), "{}", out.stderr());
}

#[test]
fn an_unreachable_context_names_it() {
    let config = tempfile::tempdir().unwrap();
    let socket = config.path().join("nothing-listens.sock");
    write_context(config.path(), CONTEXT, &format!("unix://{}", socket.display()));
    let sandbox = Sandbox::new();
    let project = sandbox.project("deadctx");
    let out = Run::from_command(
        sandbox
            .command(&project, &["status"])
            .env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", config.path())
            .env("DOCKER_CONTEXT", CONTEXT),
    )
    .failure();
    let expected = format!("cannot reach the Docker engine at unix://{} (from context {CONTEXT})", socket.display());
    assert!(out.stderr().contains(&expected), "{}", out.stderr());
    assert!(out.stderr().contains("hint: start the engine behind the context `jenv-test-ctx`"), "{}", out.stderr());
}

#[track_caller]
fn assert_answers(url: &NotebookUrl) {
    let (status, body) = http(url.port, "GET", &format!("/api/contents?token={}", url.token), None);
    assert_eq!(status, 200, "{body}");
}

/// Stores a context as `docker context create NAME --docker host=ENDPOINT` does.
fn write_context(config: &Path, name: &str, endpoint: &str) {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let meta = config.join("contexts/meta").join(hash);
    std::fs::create_dir_all(&meta).unwrap();
    let json = serde_json::json!({
        "Name": name,
        "Metadata": {"Description": "jenv test"},
        "Endpoints": {"docker": {"Host": endpoint, "SkipTLSVerify": false}},
    });
    std::fs::write(meta.join("meta.json"), json.to_string()).unwrap();
}

/// A unix socket that forwards every connection to the real engine's socket, counting them.
struct SocketProxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    count: Arc<std::sync::atomic::AtomicUsize>,
}

impl SocketProxy {
    fn start(path: &Path) -> SocketProxy {
        let listener = UnixListener::bind(path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stopping, counting) = (stop.clone(), count.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(engine) = UnixStream::connect(ENGINE_SOCKET) else { continue };
                counting.fetch_add(1, Ordering::SeqCst);
                pipe(client.try_clone().unwrap(), engine.try_clone().unwrap());
                pipe(engine, client);
            }
        });
        SocketProxy { path: path.to_path_buf(), stop, count }
    }

    fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path); // wakes the accept loop so it sees `stop`
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies `from` to `to` on a thread until `from` ends, then ends `to`'s writing half, so
/// hijacked streams (exec, attach) close the way they would on the real socket.
fn pipe(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
