//! Snapshots against the real engine: installed packages survive, and no command loses them
//! silently. (Each commit takes seconds on this engine's storage driver, so tests share work.)

mod common;

use std::path::Path;
use std::time::Duration;

use common::terminal::Terminal;
use common::{NotebookUrl, Sandbox, docker, eventually, http, make_wheel};

fn import_version(sandbox: &Sandbox, project: &Path, module: &str) -> String {
    let code = format!("import {module}; print({module}.VERSION)");
    sandbox.jenv(project, &["exec", "--", "python3", "-c", &code]).success().stdout().trim().to_string()
}

fn pip_install(sandbox: &Sandbox, project: &Path, wheel: &str) {
    sandbox.jenv(project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet", wheel]).success();
}

fn status(sandbox: &Sandbox, project: &Path) -> serde_json::Value {
    serde_json::from_str(&sandbox.jenv(project, &["status", "--json"]).success().stdout()).unwrap()
}

#[test]
fn installed_packages_survive_through_a_snapshot_and_down_refuses_to_lose_them() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("keep");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &wheel);

    // Jupyter's own runtime files are not changes: start a kernel, which writes some.
    let (started, reply) = http(url.port, "POST", &format!("/api/kernels?token={}", url.token), Some("{}"));
    assert_eq!(started, 201, "{reply}");
    // A 50 MB file in pip's cache must not reach the snapshot.
    let fill_cache = "mkdir -p \"$HOME/.cache/pip/http\" && head -c 52428800 /dev/zero > \"$HOME/.cache/pip/http/big\"";
    sandbox.jenv(&project, &["exec", "--", "sh", "-c", fill_cache]).success();

    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "+ jenv-probe 1.0 (pip)\n");
    assert_eq!(status(&sandbox, &project)["changes"], 1);

    let refused = sandbox.jenv(&project, &["down"]).failure();
    assert!(refused.stderr().contains("+ jenv-probe 1.0 (pip)"), "{}", refused.stderr());
    assert!(refused.stderr().contains("jenv snapshot") && refused.stderr().contains("jenv down --discard"));
    assert_eq!(status(&sandbox, &project)["state"], "running", "a refused down leaves the notebook running");

    let snapshot = sandbox.jenv(&project, &["snapshot", "-m", "probe installed", "--json"]).success().stdout();
    let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    let size_added = snapshot["size_added"].as_i64().unwrap();
    assert!(size_added < 5_000_000, "the pip cache leaked into the snapshot: {size_added} bytes added");
    assert!(snapshot["commit_ms"].as_u64().unwrap() <= snapshot["total_ms"].as_u64().unwrap());
    let lock = std::fs::read_to_string(project.join(".jupyter-env.lock")).unwrap();
    assert!(lock.contains("jenv-probe @ file:///home/jovyan/work/dist/jenv_probe-1.0-py3-none-any.whl"), "{lock}");
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "", "nothing pending after a snapshot");

    sandbox.jenv(&project, &["down"]).success();
    sandbox.jenv(&project, &["up"]).success();
    let repository = format!("jenv/{}", status(&sandbox, &project)["name"].as_str().unwrap());
    assert_eq!(status(&sandbox, &project)["image"], format!("{repository}:latest"));
    assert_eq!(import_version(&sandbox, &project, "jenv_probe"), "1.0");
    let cache = sandbox.jenv(&project, &["exec", "--", "sh", "-c", "ls \"$HOME/.cache/pip/http/big\" 2>&1 || true"]);
    assert!(cache.stdout().contains("No such file"), "{}", cache.stdout());

    let history = sandbox.jenv(&project, &["history"]).success().stdout();
    assert!(history.contains("probe installed") && history.contains(snapshot["tag"].as_str().unwrap()), "{history}");
}

/// On a terminal `down` asks instead of refusing: an answer it does not know asks again, a
/// cancel keeps the notebook running, and "snapshot" (in any case) takes one, then stops.
#[test]
fn on_a_terminal_down_asks_what_to_do_with_installs_no_snapshot_holds() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("ask");
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &wheel);
    let question = "[s]napshot first, [d]iscard them, or [c]ancel?";

    let cancelled = Terminal::run(&sandbox, &project, &["down"]);
    cancelled.expect(question, Duration::from_secs(60));
    assert!(cancelled.screen().contains("1 package change that no snapshot holds:"), "{}", cancelled.screen());
    assert!(cancelled.screen().contains("+ jenv-probe 1.0 (pip)"), "{}", cancelled.screen());
    cancelled.answer("maybe");
    eventually("the question asked again", Duration::from_secs(10), || {
        cancelled.screen().matches(question).count() == 2
    });
    cancelled.answer("c");
    assert_ne!(cancelled.exit_code(Duration::from_secs(10)), 0);
    assert!(cancelled.screen().contains("cancelled; the notebook keeps running"), "{}", cancelled.screen());
    assert_eq!(status(&sandbox, &project)["state"], "running");

    let snapshotted = Terminal::run(&sandbox, &project, &["down"]);
    snapshotted.expect(question, Duration::from_secs(60));
    snapshotted.answer("Snapshot");
    assert_eq!(snapshotted.exit_code(Duration::from_secs(300)), 0, "{}", snapshotted.screen());
    assert!(snapshotted.screen().contains("the next `jenv up` starts from it"), "{}", snapshotted.screen());
    assert!(snapshotted.screen().contains("stopped jenv-"), "{}", snapshotted.screen());
    assert_eq!(status(&sandbox, &project)["state"], "absent");
    let history = sandbox.jenv(&project, &["history"]).success().stdout();
    assert!(history.contains("taken by jenv down"), "{history}");
}

#[test]
fn rollback_returns_to_the_earlier_snapshot_and_prune_keeps_what_is_in_use() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("rollback");
    sandbox.jenv(&project, &["up"]).success();
    let old = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    let new = make_wheel(&sandbox, &project, "jenv_probe", "2.0");
    pip_install(&sandbox, &project, &old);
    let first = sandbox.jenv(&project, &["snapshot", "-m", "one"]).success().stdout();
    pip_install(&sandbox, &project, &new);
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "~ jenv-probe 1.0 -> 2.0 (pip)\n");
    let second = sandbox.jenv(&project, &["snapshot", "-m", "two"]).success().stdout();
    assert_ne!(first, second);

    let rolled = sandbox.jenv(&project, &["rollback"]).success().stdout();
    assert_eq!(rolled, first);
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&sandbox.jenv(&project, &["history", "--json"]).success().stdout()).unwrap();
    let current: Vec<&str> =
        history.iter().filter(|e| e["current"] == true).map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(current, ["one"]);

    sandbox.jenv(&project, &["down", "--discard"]).success();
    sandbox.jenv(&project, &["up"]).success();
    assert_eq!(import_version(&sandbox, &project, "jenv_probe"), "1.0");

    // "two" is neither current nor used by a container; "one" is both.
    let pruned = sandbox.jenv(&project, &["prune", "--keep", "0"]).success();
    let second_tag = second.trim().rsplit(':').next().unwrap();
    assert_eq!(pruned.stdout(), format!("removed {second_tag}\n"));
    assert!(pruned.stderr().contains("in use"), "{}", pruned.stderr());
    let unknown = sandbox.jenv(&project, &["rollback", second_tag]).failure();
    assert!(unknown.stderr().contains("no snapshot"), "{}", unknown.stderr());
}

#[test]
fn flatten_squashes_layers_and_keeps_the_image_working() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("flat");
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &wheel);

    let out = sandbox.command(&project, &["snapshot", "--json"]).env("JENV_FLATTEN_LAYERS", "2").output().unwrap();
    let out = common::Run(out).success();
    let snapshot: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(snapshot["flattened"], true);
    let image = snapshot["image"].as_str().unwrap();
    let layers = docker(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", image]);
    assert_eq!(layers.trim(), "1");
    let config = |image: &str| {
        docker(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Env}} {{json .Config.ExposedPorts}}",
            image,
        ])
    };
    assert_eq!(config(image), config(&common::test_image()), "the flattened image keeps the base config");

    sandbox.jenv(&project, &["down"]).success();
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(http(url.port, "GET", &format!("/api/contents?token={}", url.token), None).0, 200);
    assert_eq!(import_version(&sandbox, &project, "jenv_probe"), "1.0");
}

#[test]
fn rebuild_recreates_a_lost_image_from_the_record() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("rebuild");
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &wheel);
    sandbox.jenv(&project, &["snapshot"]).success();
    sandbox.jenv(&project, &["down"]).success();

    // The image is lost (pruned, or this is another machine): only the folder's record is left.
    let name = status(&sandbox, &project)["name"].as_str().unwrap().to_string();
    let images = docker(&["images", "-q", &format!("jenv/{name}")]);
    let images: Vec<&str> = images.split_whitespace().collect();
    docker(&[&["rmi", "-f"][..], &images].concat());
    std::fs::remove_dir_all(sandbox.home.join("snapshots")).unwrap();

    sandbox.jenv(&project, &["rebuild"]).success();
    sandbox.jenv(&project, &["up"]).success();
    assert_eq!(import_version(&sandbox, &project, "jenv_probe"), "1.0");
}

#[test]
fn rebuild_without_a_base_image_or_a_record_says_so() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("norecord");
    let err = sandbox.jenv(&project, &["rebuild"]).failure().stderr();
    assert!(err.contains("has no .jupyter-env.lock") && err.contains("jenv snapshot"), "{err}");

    let lock = "snapshot = \"x\"\ncreated = 1\nbase_image = \"127.0.0.1:1/gone:1\"\n[pip]\nsix = \"six==1.16.0\"\n";
    std::fs::write(project.join(".jupyter-env.lock"), lock).unwrap();
    sandbox.edit_manifest(&project, |manifest| {
        manifest.replace(&format!("image = \"{}\"", common::test_image()), "image = \"127.0.0.1:1/gone:1\"")
    });
    let err = sandbox.jenv(&project, &["rebuild"]).failure().stderr();
    assert!(err.contains("cannot rebuild: the base image 127.0.0.1:1/gone:1"), "{err}");
    assert!(sandbox.containers().is_empty());
}

#[test]
fn ctrl_c_in_attach_without_a_terminal_keeps_unsnapshotted_work_running() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("attach-guard");
    let (child, _) = sandbox.spawn_up(&project, &["up", "--attach"]);
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &wheel);

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("+ jenv-probe 1.0 (pip)") && stderr.contains("jenv down --discard"), "{stderr}");
    assert_eq!(status(&sandbox, &project)["state"], "running");
    sandbox.jenv(&project, &["down", "--discard"]).success();
    assert!(sandbox.containers().is_empty());
}
