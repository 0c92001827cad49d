//! Sharing a folder's environment through a real registry (Debian's docker-registry on
//! loopback): push, pull, `jenv up` that pulls on a machine without the image, logins from the
//! user's docker config, and the base-image pull with its progress lines.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::registry::Registry;
use common::{NotebookUrl, Sandbox, docker, make_wheel, test_image};
use serde_json::Value;

/// Points the folder's snapshots at `repository`.
fn use_repository(sandbox: &Sandbox, project: &Path, repository: &str) {
    sandbox.edit_manifest(project, |manifest| {
        let line = manifest.lines().find(|l| l.starts_with("repository = ")).unwrap().to_string();
        manifest.replace(&line, &format!("repository = \"{repository}\""))
    });
}

/// A folder with `repository`, a package installed and snapshotted, then stopped.
fn snapshotted(sandbox: &Sandbox, name: &str, repository: &str) -> PathBuf {
    let project = sandbox.project(name);
    use_repository(sandbox, &project, repository);
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(sandbox, &project, "jenv_shared", "2.0");
    sandbox.jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "-q", &wheel]).success();
    sandbox.jenv(&project, &["snapshot", "-m", "shared"]).success();
    sandbox.jenv(&project, &["down"]).success();
    project
}

/// The folder as a colleague's clone has it: the manifest and its lock, nothing else.
fn clone_into(project: &Path, sandbox: &Sandbox, name: &str) -> PathBuf {
    let clone = sandbox.root().join(name);
    std::fs::create_dir_all(&clone).unwrap();
    for file in [".jupyter-env", ".jupyter-env.lock"] {
        std::fs::copy(project.join(file), clone.join(file)).unwrap();
    }
    clone
}

fn remove_local(repository: &str) {
    let tags = docker(&["images", repository, "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in tags.lines() {
        docker(&["rmi", tag]);
    }
}

/// Every string value in a JSON document.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

/// What the registry serves for `repository:tag`: its manifest and its image config (labels,
/// config, the committed container's config, history).
fn served(registry: &Registry, repository: &str, tag: &str) -> (Value, Value) {
    let name = repository.strip_prefix(&format!("{}/", registry.host)).unwrap();
    let manifest: Value = serde_json::from_str(&registry.get(&format!("/v2/{name}/manifests/{tag}"))).unwrap();
    let digest = manifest["config"]["digest"].as_str().expect("a schema 2 manifest");
    let config: Value = serde_json::from_str(&registry.get(&format!("/v2/{name}/blobs/{digest}"))).unwrap();
    (manifest, config)
}

/// The strings of what the registry serves for `repository:tag`.
fn served_strings(registry: &Registry, repository: &str, tag: &str) -> Vec<String> {
    let (manifest, config) = served(registry, repository, tag);
    let mut out = Vec::new();
    strings(&manifest, &mut out);
    strings(&config, &mut out);
    out
}

/// Whether `text` says `word` as a whole (`root` in `/root/x` but not in `rootfs`).
fn says(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// What would tell the pusher's machine: the sandbox's temp tree (the folder and JENV_HOME are
/// in it), HOME and the user name, unless the base image itself says them (`root`, say).
fn machine_details(sandbox: &Sandbox, project: &Path) -> Vec<String> {
    let mut base = Vec::new();
    strings(&serde_json::from_str(&docker(&["image", "inspect", &test_image()])).unwrap(), &mut base);
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let mut details = vec![sandbox.root().display().to_string(), project.display().to_string()];
    details.push(sandbox.home.display().to_string());
    let home = std::env::var("HOME").unwrap_or_default();
    for detail in [home, user.trim().to_string()] {
        if detail.len() > 1 && !base.iter().any(|text| says(text, &detail)) {
            details.push(detail);
        }
    }
    details
}

#[test]
fn a_pushed_snapshot_is_pulled_by_up_in_a_fresh_clone_and_the_package_imports() {
    let Some(registry) = Registry::start(None) else { return };
    // Dropped last: pulled snapshots carry no sandbox's label, so they go by name.
    let mut cleanup = common::Cleanup::default();
    let here = Sandbox::new();
    let repository = format!("{}/team/shared-{}", registry.host, std::process::id());
    let project = snapshotted(&here, "shared", &repository);
    let local = |reference: &str, format: &str| docker(&["image", "inspect", "-f", format, reference]);
    let before = local(&format!("{repository}:latest"), "{{.Id}}");

    let pushed: Value = serde_json::from_str(&here.jenv(&project, &["push", "--json"]).success().stdout()).unwrap();
    let current = pushed["current"].as_str().unwrap().to_string();
    assert_eq!(pushed["tags"], serde_json::json!([current, "latest"]));
    for tag in [current.as_str(), "latest"] {
        cleanup.docker(&["rmi", "-f", &format!("{repository}:{tag}")]);
    }

    // The copy is the snapshot's layers and history under a new config, made without a commit
    // (which records the committed container and, on fuse-overlayfs, walks every file).
    let (_, config) = served(&registry, &repository, &current);
    assert!(config["container"].as_str().unwrap_or_default().is_empty(), "a commit made the pushed copy: {config}");
    let steps = docker(&["history", "-q", &format!("{repository}:{current}")]).lines().count();
    assert_eq!(config["history"].as_array().map(Vec::len), Some(steps), "{config}");

    // What the registry serves is the environment, nothing of the machine it was made on...
    let details = machine_details(&here, &project);
    for tag in [current.as_str(), "latest"] {
        for text in served_strings(&registry, &repository, tag) {
            for detail in &details {
                assert!(!says(&text, detail), "{repository}:{tag} serves `{detail}` in: {text}");
            }
        }
    }
    // ...which stays in the local snapshot, still the folder's latest.
    assert_eq!(local(&format!("{repository}:latest"), "{{.Id}}"), before);
    let home = local(&format!("{repository}:{current}"), "{{index .Config.Labels \"jenv.home\"}}");
    assert_eq!(home.trim(), here.home.display().to_string());
    remove_local(&repository);

    // Another user (a fresh JENV_HOME) with the folder's clone: trust it, then up pulls.
    let there = Sandbox::new();
    let clone = clone_into(&project, &there, "clone");
    there.jenv(&clone, &["trust"]).success();
    let up = there.jenv(&clone, &["up"]).success();
    assert!(up.stderr().contains(&format!("pulling {repository}:{current}")), "{}", up.stderr());
    NotebookUrl::parse(&up.stdout());
    let import = there.jenv(&clone, &["exec", "--", "python3", "-c", "import jenv_shared; print(jenv_shared.VERSION)"]);
    assert_eq!(import.success().stdout().trim(), "2.0");
    let history: Value = serde_json::from_str(&there.jenv(&clone, &["history", "--json"]).success().stdout()).unwrap();
    assert_eq!(history[0]["tag"], current.as_str());
    assert_eq!(history[0]["current"], true);
    let added = history[0]["size_added"].as_i64().unwrap();
    assert!(added > 0 && added < 50_000_000, "the pulled snapshot's size over its base: {added}");
    // The record travelled in the image: the receiving side knows what it holds.
    let label = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"jenv.record\"}}",
        &format!("{repository}:latest"),
    ]);
    assert!(label.contains("jenv-shared") || label.contains("jenv_shared"), "{label}");
    // A snapshot taken there builds on the pulled one's record, and rolls back to it.
    there.jenv(&clone, &["snapshot", "-m", "there"]).success();
    let lock = std::fs::read_to_string(clone.join(".jupyter-env.lock")).unwrap();
    assert!(lock.contains("jenv_shared") || lock.contains("jenv-shared"), "{lock}");
    assert!(!lock.contains(&format!("snapshot = \"{current}\"")), "{lock}");
    there.jenv(&clone, &["rollback"]).success();
    let lock = std::fs::read_to_string(clone.join(".jupyter-env.lock")).unwrap();
    assert!(lock.contains(&format!("snapshot = \"{current}\"")), "{lock}");
    there.jenv(&clone, &["down"]).success();

    // `jenv pull` fetches it explicitly too, and `push --all` sends every snapshot.
    remove_local(&repository);
    let pulled: Value = serde_json::from_str(&there.jenv(&clone, &["pull", "--json"]).success().stdout()).unwrap();
    assert_eq!(pulled["image"], format!("{repository}:{current}"));
    assert_eq!(pulled["snapshot"], current.as_str());
    // Pushed again from here, where it is now the pulled copy: the registry keeps the same image.
    let manifest = format!("/v2/{}/manifests/{current}", repository.split_once('/').unwrap().1);
    let config = || serde_json::from_str::<Value>(&registry.get(&manifest)).unwrap()["config"]["digest"].clone();
    let served = config();
    here.jenv(&project, &["push", "--all"]).success();
    assert_eq!(config(), served);
}

#[test]
fn a_registry_with_logins_refuses_until_docker_login_and_credential_helpers_work() {
    let Some(registry) = Registry::start(Some(("ana", "s3cret"))) else { return };
    let config = tempfile::tempdir().unwrap();
    let config_dir = config.path().to_str().unwrap();
    let here = Sandbox::with_env(&test_image(), None, &[("DOCKER_CONFIG", Some(config_dir))]);
    let repository = format!("{}/team/private-{}", registry.host, std::process::id());
    let project = snapshotted(&here, "private", &repository);

    let refused = here.jenv(&project, &["push"]).failure().stderr();
    assert!(refused.contains(&format!("{} refused to let you push", registry.host)), "{refused}");
    assert!(refused.contains(&format!("docker login {}", registry.host)), "{refused}");

    let mut login = Command::new("docker");
    login.args(["--config", config_dir, "login", &registry.host, "-u", "ana", "--password-stdin"]);
    login.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null());
    let mut child = login.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"s3cret\n").unwrap();
    assert!(child.wait().unwrap().success(), "docker login");
    here.jenv(&project, &["push"]).success();

    // A credential helper named in the config is asked, as the docker CLI asks it.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-jenvtest");
    std::fs::write(&helper, "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"ana\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"\n")
        .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        config.path().join("config.json"),
        format!("{{\"credHelpers\": {{\"{}\": \"jenvtest\"}}}}", registry.host),
    )
    .unwrap();
    remove_local(&repository);
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let pulled = here.command(&project, &["pull"]).env("PATH", &path).output().unwrap();
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));

    // Without any login, the pull is refused with the way to log in.
    std::fs::write(config.path().join("config.json"), "{}").unwrap();
    remove_local(&repository);
    let refused = here.jenv(&project, &["pull"]).failure().stderr();
    assert!(refused.contains(&format!("docker login {}", registry.host)), "{refused}");
}

/// A base image that is not here is pulled from its registry, with a line per layer when not on a
/// terminal.
#[test]
fn a_missing_base_image_is_pulled_with_progress_lines() {
    let Some(registry) = Registry::start(None) else { return };
    let base = format!("{}/base/notebook-{}:1", registry.host, std::process::id());
    // An image of its own (one layer on the test image), so the pull has a layer to fetch.
    let maker = format!("jenv-test-base-{}", std::process::id());
    let mut cleanup = common::Cleanup::default();
    cleanup.docker(&["rmi", "-f", &base]);
    cleanup.docker(&["rm", "-f", &maker]);
    docker(&["create", "--name", &maker, "--label", "jenv.managed=test", &test_image()]);
    let file = tempfile::NamedTempFile::new().unwrap();
    docker(&["cp", file.path().to_str().unwrap(), &format!("{maker}:/opt/jenv-base")]);
    docker(&["commit", &maker, &base]);
    docker(&["rm", &maker]);
    docker(&["push", &base]);
    docker(&["rmi", &base]);

    let sandbox = Sandbox::new();
    let project = sandbox.root().join("fresh-base");
    std::fs::create_dir_all(&project).unwrap();
    sandbox.jenv(&project, &["init", "--image", &base]).success();
    let up = sandbox.jenv(&project, &["up"]).success();
    assert!(up.stderr().contains(&format!("pulling {base}")), "{}", up.stderr());
    assert!(up.stderr().contains(": pull complete"), "a line per layer: {}", up.stderr());
    sandbox.jenv(&project, &["exec", "--", "test", "-f", "/opt/jenv-base"]).success();
    sandbox.jenv(&project, &["down"]).success();
}
