//! Bad input and broken surroundings: a clear message, a hint, a non-zero exit, nothing left behind.

mod common;

use std::process::Command;

use common::Sandbox;

#[test]
fn no_manifest_says_where_it_looked_and_what_to_run() {
    let sandbox = Sandbox::new();
    let out = sandbox.jenv(&sandbox.root(), &["up"]).failure();
    assert_eq!(
        out.stderr(),
        format!(
            "error: no .jupyter-env found in {} or any parent folder\nhint: run `jenv init` in your project folder to create one, or `jenv up --init` to create one and start\n",
            sandbox.root().display()
        )
    );
}

#[test]
fn init_refuses_to_overwrite_and_rejects_bad_names_writing_nothing() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("kept");
    let before = std::fs::read_to_string(folder.join(".jupyter-env")).unwrap();
    let again = sandbox.jenv(&folder, &["init", "--image", "other:1"]).failure();
    assert!(again.stderr().contains("already exists") && again.stderr().contains("--force"), "{}", again.stderr());
    assert_eq!(std::fs::read_to_string(folder.join(".jupyter-env")).unwrap(), before);

    let fresh = sandbox.root().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let bad = sandbox.jenv(&fresh, &["init", "--name", "Not A Name"]).failure();
    assert!(bad.stderr().contains("`Not A Name` is not a valid environment name"), "{}", bad.stderr());
    assert!(!fresh.join(".jupyter-env").exists());

    sandbox.jenv(&folder, &["init", "--force", "--name", "renamed", "--port", "spark=4040"]).success();
    let text = std::fs::read_to_string(folder.join(".jupyter-env")).unwrap();
    assert!(text.contains("name = \"renamed\"") && text.contains("spark = 4040"), "{text}");
}

#[test]
fn a_broken_manifest_names_the_file_and_line() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("broken");
    let path = folder.join(".jupyter-env");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[wrong]\ncolour = 1\n")).unwrap();
    let out = sandbox.jenv(&folder, &["status"]).failure();
    assert!(out.stderr().contains(&path.display().to_string()), "{}", out.stderr());
    assert!(out.stderr().contains("unknown field `wrong`"), "{}", out.stderr());
    assert!(out.stderr().contains("hint:"), "{}", out.stderr());
}

#[test]
fn a_mount_over_a_system_folder_is_refused_before_anything_starts() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("overetc");
    let path = folder.join(".jupyter-env");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("mount = \"/home/jovyan/work\"", "mount = \"/etc\"")).unwrap();
    let out = sandbox.jenv(&folder, &["up"]).failure();
    assert_eq!(
        out.stderr(),
        format!(
            "error: {} is not a valid manifest\n  caused by: `mount = \"/etc\"` lies over `/etc`, one of the image's system folders\nhint: mount it under a home or data folder, e.g. `mount = \"/home/jovyan/work\"`\n",
            path.display()
        )
    );
    assert!(sandbox.containers().is_empty(), "no container started");
}

#[test]
fn an_unreachable_engine_is_named_with_how_to_start_docker() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("noengine");
    let out = Run::from(sandbox.command(&folder, &["up"]).env("DOCKER_HOST", "unix:///tmp/jenv-no-such.sock"));
    let err = out.failure().stderr();
    assert!(err.contains("cannot reach the Docker engine at unix:///tmp/jenv-no-such.sock"), "{err}");
    assert!(err.contains("hint: start Docker"), "{err}");
}

#[test]
fn an_image_that_cannot_be_pulled_fails_cleanly() {
    let sandbox = Sandbox::new();
    let folder = sandbox.root().join("nopull");
    std::fs::create_dir(&folder).unwrap();
    sandbox.jenv(&folder, &["init", "--image", "127.0.0.1:1/jenv/missing:never"]).success();
    let err = sandbox.jenv(&folder, &["up"]).failure().stderr();
    assert!(err.contains("cannot pull 127.0.0.1:1/jenv/missing:never"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(sandbox.containers().is_empty(), "no half-created container");
}

#[test]
fn a_notebook_that_dies_shows_its_logs_and_leaves_nothing_behind() {
    let sandbox = Sandbox::new();
    let image = dying_image(&sandbox);
    let folder = sandbox.root().join("dies");
    std::fs::create_dir(&folder).unwrap();
    sandbox.jenv(&folder, &["init", "--image", &image]).success();
    let err = sandbox.jenv(&folder, &["up"]).failure().stderr();
    assert!(err.contains("stopped before Jupyter answered"), "{err}");
    assert!(err.contains("boom: no notebook here"), "the container's last log lines: {err}");
    assert!(sandbox.containers().is_empty(), "no half-created container");
}

#[test]
fn a_notebook_that_never_answers_times_out_with_its_logs() {
    let sandbox = Sandbox::new();
    let folder = sandbox.root().join("silent");
    std::fs::create_dir(&folder).unwrap();
    // A container that runs but never serves: its log line is there from its first moment, so
    // the short deadline decides nothing but the timeout itself.
    let image = image_running(&sandbox, "silent", "echo 'silent: no server here'; exec sleep infinity");
    sandbox.jenv(&folder, &["init", "--image", &image]).success();
    let out = Run::from(sandbox.command(&folder, &["up"]).env("JENV_READY_TIMEOUT", "3"));
    let err = out.failure().stderr();
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("silent: no server here"), "the container's last log lines: {err}");
    assert!(sandbox.containers().is_empty(), "no half-created container");
}

#[test]
fn commands_that_need_a_running_notebook_say_how_to_start_it() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("idle");
    for args in [&["url"][..], &["exec", "--", "true"], &["shell"]] {
        let err = sandbox.jenv(&folder, args).failure().stderr();
        assert!(err.contains("is not running") && err.contains("hint: start it with `jenv up`"), "{args:?}: {err}");
    }
}

use common::Run;

impl From<&mut Command> for Run {
    fn from(command: &mut Command) -> Run {
        Run(command.output().unwrap())
    }
}

/// An image whose command exits at once, built locally from the test image (no registry).
fn dying_image(sandbox: &Sandbox) -> String {
    image_running(sandbox, "dies", "echo 'boom: no notebook here'; exit 3")
}

/// An image from the test image whose command is `script` (no registry), named and labelled
/// for `sandbox`, which removes it when the test ends.
fn image_running(sandbox: &Sandbox, name: &str, script: &str) -> String {
    let tag = format!("jenv-test/{name}:{}", sandbox.ports.0);
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {}\nLABEL jenv.home=\"{}\"\nCMD [\"sh\", \"-c\", \"{script}\"]\n",
        common::test_image(),
        sandbox.home.display()
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    common::docker(&["build", "-q", "-t", &tag, &dir.path().display().to_string()]);
    tag
}

#[test]
fn idle_durations_that_are_not_durations_or_too_short_are_refused() {
    let sandbox = Sandbox::new();
    let folder = sandbox.project("sleepless");
    let path = folder.join(".jupyter-env");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("idle_stop = \"30s\"\n{text}")).unwrap();
    let out = sandbox.jenv(&folder, &["up"]).failure();
    assert!(out.stderr().contains("`idle_stop = \"30s\"` is shorter than a minute"), "{}", out.stderr());
    assert!(out.stderr().contains("hint:"), "{}", out.stderr());
    assert!(sandbox.containers().is_empty(), "nothing started");

    std::fs::write(sandbox.home.join("config.toml"), "idle_stop = \"soon\"\n").unwrap();
    let out = sandbox.jenv(&folder, &["init", "--force"]).failure();
    assert!(out.stderr().contains("config.toml is not a valid jenv config"), "{}", out.stderr());
    assert!(out.stderr().contains("`idle_stop = \"soon\"` is not a duration"), "{}", out.stderr());

    let out = sandbox.jenv(&folder, &["down", "--idle", "a while"]).failure();
    assert!(out.stderr().contains("`--idle a while` is not a duration"), "{}", out.stderr());
}
