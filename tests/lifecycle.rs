//! up / down / status / url / exec against the real engine and the offline Jupyter image.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::{NotebookUrl, Sandbox, docker, http};

#[test]
fn up_from_a_subfolder_serves_a_token_protected_notebook_on_loopback_only() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("analysis");
    let deep = project.join("notebooks/2026");
    std::fs::create_dir_all(&deep).unwrap();

    let up = sandbox.jenv(&deep, &["up"]).success();
    let url = NotebookUrl::parse(&up.stdout());
    assert!(url.token.len() >= 32 && url.token.chars().all(|c| c.is_ascii_hexdigit()), "{url:?}");

    let (with_token, _) = http(url.port, "GET", &format!("/api/contents?token={}", url.token), None);
    assert_eq!(with_token, 200);
    let (without_token, _) = http(url.port, "GET", "/api/contents", None);
    assert_eq!(without_token, 403);

    let ids = sandbox.containers();
    assert_eq!(ids.len(), 1);
    let bindings = docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &ids[0]]);
    let bindings: serde_json::Value = serde_json::from_str(&bindings).unwrap();
    for (port, hosts) in bindings.as_object().unwrap() {
        for host in hosts.as_array().unwrap() {
            assert_eq!(host["HostIp"], "127.0.0.1", "{port} is published beyond loopback: {bindings}");
        }
    }
    if let Some(address) = non_loopback_address() {
        let reached = std::net::TcpStream::connect_timeout(&(address, url.port).into(), Duration::from_secs(2));
        assert!(reached.is_err(), "the notebook answers on {address}:{}", url.port);
    }
}

#[test]
fn files_the_notebook_writes_belong_to_the_host_user() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("owner");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());

    // Written by the Jupyter server itself, through its contents API, as a notebook user would.
    let body = r#"{"type": "file", "format": "text", "content": "written by jupyter\n"}"#;
    let (status, reply) =
        http(url.port, "PUT", &format!("/api/contents/from-notebook.txt?token={}", url.token), Some(body));
    assert!(status == 200 || status == 201, "{status}: {reply}");

    let written = project.join("from-notebook.txt");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "written by jupyter\n");
    let meta = std::fs::metadata(&written).unwrap();
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
}

#[test]
fn up_twice_is_idempotent_and_down_up_keeps_the_url() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("stable");
    let first = sandbox.jenv(&project, &["up"]).success().stdout();
    let again = sandbox.jenv(&project, &["up"]).success().stdout();
    assert_eq!(first, again);
    assert_eq!(sandbox.containers().len(), 1);
    assert_eq!(sandbox.jenv(&project, &["url"]).success().stdout(), first);

    let down = sandbox.jenv(&project, &["down"]).success();
    assert!(down.stderr().contains("stopped"), "{}", down.stderr());
    assert!(sandbox.containers().is_empty(), "down removes the container");
    let status = sandbox.jenv(&project, &["status", "--json"]).success().stdout();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["state"], "absent");

    let after = sandbox.jenv(&project, &["up"]).success().stdout();
    assert_eq!(NotebookUrl::parse(&after), NotebookUrl::parse(&first), "same port and token after down/up");
    sandbox.jenv(&project, &["down"]).success();
    sandbox.jenv(&project, &["down"]).success();
}

#[test]
fn exec_runs_in_the_folder_as_the_notebook_user_and_passes_the_exit_code() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("exec");
    sandbox.jenv(&project, &["up"]).success();

    let pwd = sandbox.jenv(&project, &["exec", "--", "pwd"]).success();
    assert_eq!(pwd.stdout().trim(), "/home/jovyan/work");
    let id = sandbox.jenv(&project, &["exec", "--", "id", "-u"]).success();
    // SAFETY: getuid has no preconditions.
    assert_eq!(id.stdout().trim(), unsafe { libc::getuid() }.to_string());

    let logs = sandbox.jenv(&project, &["logs", "--tail", "50"]).success();
    assert!(logs.stderr().contains("NotebookApp"), "Jupyter's log, on stderr as it wrote it: {}", logs.stderr());

    let failing = sandbox.jenv(&project, &["exec", "--", "sh", "-c", "echo to-stderr >&2; exit 7"]);
    assert_eq!(failing.code(), Some(7));
    assert_eq!(failing.stderr(), "to-stderr\n");
}

#[test]
fn status_reports_the_running_environment() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("status");
    let url = sandbox.jenv(&project, &["up"]).success().stdout();
    let status = sandbox.jenv(&project, &["status", "--json"]).success().stdout();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["state"], "running");
    assert_eq!(status["folder"], project.display().to_string());
    assert_eq!(status["url"], url.trim());
    assert_eq!(status["image"], common::test_image());
    assert_eq!(status["ports"]["jupyter"]["container"], 8888);
    assert_eq!(status["ports"]["jupyter"]["host"], NotebookUrl::parse(&url).port);

    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("running") && human.contains(url.trim()), "{human}");
}

#[test]
fn a_corrupt_state_file_is_rebuilt_from_the_engine() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("corrupt");
    let url = sandbox.jenv(&project, &["up"]).success().stdout();
    std::fs::write(sandbox.home.join("state.json"), "{ this is not json").unwrap();

    // The running notebook's URL is recovered from the container itself.
    assert_eq!(sandbox.jenv(&project, &["url"]).success().stdout(), url);
    let other = sandbox.project("other");
    let up = sandbox.jenv(&other, &["up"]).success();
    assert!(up.stderr().contains("rebuilding it from the containers"), "{}", up.stderr());
    assert_ne!(NotebookUrl::parse(&up.stdout()).port, NotebookUrl::parse(&url).port);
}

fn non_loopback_address() -> Option<std::net::IpAddr> {
    let out = std::process::Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .split_whitespace()
        .filter_map(|a| a.parse().ok())
        .find(|a: &std::net::IpAddr| a.is_ipv4())
}

#[test]
fn attach_streams_logs_and_ctrl_c_stops_the_notebook() {
    use std::io::{BufRead, BufReader};

    let sandbox = Sandbox::new();
    let project = sandbox.project("attached");
    let (mut child, url) = sandbox.spawn_up(&project, &["up", "--attach"]);
    // Jupyter logs to stderr, and the attached stream passes that on as stderr.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines() {
            sink.lock().unwrap().push_str(&(line.unwrap() + "\n"));
        }
    });
    // A request the notebook logs, so the stream has something to show. The stream starts just
    // after the URL is printed, so a request made in between is not in it: ask until one shows.
    common::eventually("the 403 to show in the attached log", Duration::from_secs(20), || {
        http(url.port, "GET", "/api/contents", None);
        log.lock().unwrap().contains("403 GET /api/contents")
    });

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{}", log.lock().unwrap());
    assert!(log.lock().unwrap().contains("stopping the notebook"));
    assert!(sandbox.containers().is_empty(), "Ctrl-C stops and removes the notebook");
}

#[test]
fn leases_of_containers_removed_behind_jenvs_back_are_reclaimed() {
    let sandbox = Sandbox::new();
    let first = sandbox.project("first");
    let url = NotebookUrl::parse(&sandbox.jenv(&first, &["up"]).success().stdout());
    docker(&["rm", "-f", &sandbox.containers()[0]]);

    let second = sandbox.project("second");
    sandbox.jenv(&second, &["up"]).success();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.home.join("state.json")).unwrap()).unwrap();
    let first_name =
        state["environments"].as_object().unwrap().keys().find(|k| k.starts_with("first-")).unwrap().clone();
    assert_eq!(state["environments"][&first_name]["leased"], false);
    assert_eq!(state["environments"][&first_name]["ports"]["jupyter"], url.port, "kept as the folder's preference");
}

/// The host user may be anyone: run jenv itself as other uids (possible when the tests run as root,
/// as in CI) and check the notebook's files land owned by them.
#[test]
fn files_belong_to_non_root_host_users_too() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root to run jenv as other users");
        return;
    }
    let socket_gid = std::fs::metadata("/var/run/docker.sock").unwrap().gid();
    for uid in [1000u32, 1234] {
        let sandbox = Sandbox::new();
        let root = sandbox.root();
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let project = root.join(format!("user{uid}"));
        std::fs::create_dir(&project).unwrap();
        std::os::unix::fs::chown(&project, Some(uid), Some(uid)).unwrap();
        std::fs::create_dir(&sandbox.home).unwrap();
        std::os::unix::fs::chown(&sandbox.home, Some(uid), Some(uid)).unwrap();

        let as_user = |args: &[&str]| {
            let ids = [format!("--reuid={uid}"), format!("--regid={uid}"), format!("--groups={socket_gid}")];
            let mut command = std::process::Command::new("setpriv");
            command
                .args(ids)
                .arg(env!("CARGO_BIN_EXE_jenv"))
                .args(args)
                .current_dir(&project)
                .env("HOME", &sandbox.home)
                .env("JENV_HOME", &sandbox.home);
            common::Run(command.output().unwrap())
        };
        as_user(&["init", "--image", &common::test_image()]).success();
        let url = NotebookUrl::parse(&as_user(&["up"]).success().stdout());
        let body = r#"{"type": "file", "format": "text", "content": "hi\n"}"#;
        let (status, reply) = http(url.port, "PUT", &format!("/api/contents/mine.txt?token={}", url.token), Some(body));
        assert!(status == 200 || status == 201, "uid {uid}: {status} {reply}");
        let meta = std::fs::metadata(project.join("mine.txt")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, uid));
        as_user(&["down"]).success();
    }
}

#[test]
fn a_notebook_stopped_outside_jenv_is_reported_guarded_and_started_again() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("stopped");
    let first = sandbox.jenv(&project, &["up"]).success().stdout();
    let ids = sandbox.containers();
    docker(&["stop", &ids[0]]);

    let status: serde_json::Value =
        serde_json::from_str(&sandbox.jenv(&project, &["status", "--json"]).success().stdout()).unwrap();
    assert_eq!(status["state"], "exited");
    assert!(status.get("changes").is_none(), "a stopped notebook's packages cannot be listed: {status}");

    // Its filesystem may hold installs no snapshot has: down asks for --discard.
    let refused = sandbox.jenv(&project, &["down"]).failure();
    assert!(refused.stderr().contains("jenv down --discard"), "{}", refused.stderr());
    assert_eq!(sandbox.containers(), ids, "the stopped container is kept");

    let again = sandbox.jenv(&project, &["up"]).success().stdout();
    assert_eq!(again, first, "the same container starts again, same URL");
    assert_eq!(sandbox.containers(), ids);
    let url = NotebookUrl::parse(&again);
    assert_eq!(http(url.port, "GET", &format!("/api/contents?token={}", url.token), None).0, 200);
}
