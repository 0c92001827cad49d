//! Several jenv commands on one folder at once: concurrent `up`s, and everything that meets a
//! snapshot in progress or a paused notebook.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{NotebookUrl, Run, Sandbox, docker, eventually, make_wheel};
use serde_json::Value;

fn spawn(sandbox: &Sandbox, project: &Path, args: &[&str]) -> Child {
    sandbox.command(project, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn status(sandbox: &Sandbox, project: &Path) -> Value {
    serde_json::from_str(&sandbox.jenv(project, &["status", "--json"]).success().stdout()).unwrap()
}

#[test]
fn ups_started_together_in_one_folder_print_one_url_and_leave_one_container() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("together");
    let children: Vec<Child> = (0..3).map(|_| spawn(&sandbox, &project, &["up"])).collect();
    let urls: Vec<NotebookUrl> = children
        .into_iter()
        .map(|child| NotebookUrl::parse(&Run(child.wait_with_output().unwrap()).success().stdout()))
        .collect();
    assert!(urls.iter().all(|u| *u == urls[0]), "one URL for all: {urls:?}");
    assert_eq!(sandbox.containers().len(), 1);
}

#[test]
fn commands_meeting_a_snapshot_in_progress_wait_for_it_or_carry_on() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("busy");
    let url = sandbox.jenv(&project, &["up"]).success().stdout();
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    let install = ["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet", &wheel];
    sandbox.jenv(&project, &install).success();

    // The snapshot is held in progress, lock taken, by an install it waits for; the test ends it.
    let pip = start_slow_pip(&sandbox, &project);
    let snapshot = Waiter::start(&sandbox, &project, &["snapshot", "-m", "slow"], "waiting for `/bin/sh ./slow/pip");
    let busy = status(&sandbox, &project)["busy"].clone();
    assert!(busy.as_str().is_some_and(|b| b.starts_with("jenv snapshot")), "{busy}");
    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("jenv snapshot") && human.contains("in progress"), "{human}");
    assert!(!human.contains("start it with"), "{human}");
    // The notebook keeps running while it commits: `up` answers at once with the same URL...
    assert_eq!(sandbox.jenv(&project, &["up"]).success().stdout(), url);
    // ...and `down` waits for the snapshot, then finds nothing left unsaved.
    let down = Waiter::start(&sandbox, &project, &["down"], "waiting for `jenv snapshot");
    finish_slow_pip(&project, pip);
    assert_eq!(snapshot.finish().0, 0);
    assert_eq!(down.finish().0, 0);
    assert!(sandbox.containers().is_empty());
    let history = sandbox.jenv(&project, &["history"]).success().stdout();
    assert!(history.contains("slow"), "{history}");
}

/// Engines that pause the notebook for a commit (`docker commit`'s default, or a snapshot on
/// an engine that always pauses) are met while a jenv snapshot holds the folder's lock.
#[test]
fn a_notebook_paused_by_a_jenv_snapshot_is_waited_for() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("paused");
    let url = sandbox.jenv(&project, &["up"]).success().stdout();
    let name = status(&sandbox, &project)["name"].as_str().unwrap().to_string();
    let container = format!("jenv-{name}");

    let lock = hold_snapshot_lock(&sandbox, &name);
    docker(&["pause", &container]);
    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("paused: snapshot in progress"), "{human}");
    let waiting = "waiting for `jenv snapshot (pid 4242)` to finish";
    let up = Waiter::start(&sandbox, &project, &["up"], waiting);
    let exec = Waiter::start(&sandbox, &project, &["exec", "--", "true"], waiting);
    docker(&["unpause", &container]);
    drop(lock);

    let (code, stdout) = up.finish();
    assert_eq!((code, stdout), (0, url));
    assert_eq!(exec.finish().0, 0);
}

/// A jenv command seen to wait: started, then its stderr read until it prints `line`.
struct Waiter {
    child: Child,
}

impl Waiter {
    #[track_caller]
    fn start(sandbox: &Sandbox, project: &Path, args: &[&str], line: &str) -> Waiter {
        use std::io::{BufRead, BufReader};
        let mut child = spawn(sandbox, project, args);
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for text in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(text);
            }
        });
        let mut seen = Vec::new();
        while !seen.iter().any(|l: &String| l.contains(line)) {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(text) => seen.push(text),
                Err(_) => panic!("{args:?} never said `{line}`; it said {seen:?}"),
            }
        }
        Waiter { child }
    }

    fn finish(self) -> (i32, String) {
        let out = self.child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string())
    }
}

#[test]
fn a_notebook_paused_outside_jenv_is_explained_in_jenvs_words() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("frozen");
    let url = sandbox.jenv(&project, &["up"]).success().stdout();
    let container = status(&sandbox, &project)["container"].as_str().unwrap().to_string();
    docker(&["pause", &container]);

    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("paused, not by jenv") && human.contains(&format!("docker unpause {container}")), "{human}");
    assert_eq!(status(&sandbox, &project)["state"], "paused");
    for args in [&["up"][..], &["exec", "--", "true"], &["snapshot"], &["down"]] {
        let refused = sandbox.jenv(&project, args).failure();
        let text = refused.stderr();
        assert!(text.contains("is paused, and not by a jenv command"), "{args:?}: {text}");
        assert!(text.contains(&format!("docker unpause {container}")), "{args:?}: {text}");
        assert!(!text.contains("try unpause instead"), "no raw engine error: {text}");
    }
    docker(&["unpause", &container]);
    assert_eq!(sandbox.jenv(&project, &["up"]).success().stdout(), url);
}

/// Takes the folder's operation lock as a `jenv snapshot` (pid 4242) would hold it.
fn hold_snapshot_lock(sandbox: &Sandbox, env_name: &str) -> File {
    let dir = sandbox.home.join("locks");
    std::fs::create_dir_all(&dir).unwrap();
    let mut file =
        File::options().create(true).truncate(true).write(true).open(dir.join(format!("{env_name}.lock"))).unwrap();
    file.lock().unwrap();
    write!(file, "jenv snapshot (pid 4242)").unwrap();
    file
}

/// An install running in the notebook: a real `pip install` kept busy by a slow build step
/// would need the network, so a `pip` that runs until the test says it may end stands in for it
/// (the snapshot sees only its command line, as it would a real one).
fn start_slow_pip(sandbox: &Sandbox, project: &Path) -> Child {
    let _ = std::fs::remove_file(project.join("slow/done"));
    // In the mounted folder: the container's /tmp is a tmpfs that allows no programs.
    let script = "mkdir -p slow && printf '#!/bin/sh\\nuntil [ -e slow/done ]; do sleep 0.1; done\\n' > slow/pip \
                  && chmod +x slow/pip && exec ./slow/pip install slow";
    let child = spawn(sandbox, project, &["exec", "--", "sh", "-c", script]);
    eventually("the slow pip to run", Duration::from_secs(60), || {
        let top = docker(&["top", &sandbox.containers()[0]]);
        top.contains("./slow/pip install slow")
    });
    child
}

/// Lets the slow pip end, and waits until it has.
fn finish_slow_pip(project: &Path, pip: Child) {
    std::fs::write(project.join("slow/done"), "").unwrap();
    Run(pip.wait_with_output().unwrap()).success();
}

#[test]
fn a_snapshot_waits_while_a_package_manager_runs_and_refuses_after_its_deadline() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("installing");
    sandbox.jenv(&project, &["up"]).success();

    // The install ends only once the snapshot has said it waits for it: no race on who is faster.
    let pip = start_slow_pip(&sandbox, &project);
    let mut snapshot = spawn(&sandbox, &project, &["snapshot", "-m", "after pip"]);
    let stderr = BufReader::new(snapshot.stderr.take().unwrap());
    let (said_wait, waiting) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut said = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("waiting for `/bin/sh ./slow/pip install slow` to finish") {
                let _ = said_wait.send(());
            }
            said.push_str(&line);
            said.push('\n');
        }
        said
    });
    let waited = waiting.recv_timeout(Duration::from_secs(120)).is_ok();
    finish_slow_pip(&project, pip);
    let status = snapshot.wait().unwrap();
    let said = reader.join().unwrap();
    assert!(waited, "the snapshot never said it waits for the install: {said}");
    assert!(status.success(), "{said}");

    let pip = start_slow_pip(&sandbox, &project);
    let mut command = sandbox.command(&project, &["snapshot"]);
    let refused = Run(command.env("JENV_SNAPSHOT_WAIT", "1").output().unwrap()).failure();
    assert!(refused.stderr().contains("is still running in the notebook after 1s"), "{}", refused.stderr());
    assert!(refused.stderr().contains("JENV_SNAPSHOT_WAIT"), "{}", refused.stderr());
    finish_slow_pip(&project, pip);
    let history = sandbox.jenv(&project, &["history", "--json"]).success().stdout();
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "only the first snapshot exists: {history}");
}
