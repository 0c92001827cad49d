//! `jenv snapshot` killed (SIGKILL) once the engine's commit has landed: the next command
//! finishes the snapshot as it would have, or, when the notebook's packages moved during the
//! commit, shows it as interrupted for `jenv prune` to remove.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Sandbox, make_wheel};

fn pip_install(sandbox: &Sandbox, project: &Path, wheel: &str) {
    sandbox.jenv(project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet", wheel]).success();
}

fn json(sandbox: &Sandbox, project: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&sandbox.jenv(project, args).success().stdout()).unwrap()
}

/// A child process killed when the test ends, passing or failing.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `jenv snapshot` and kills it with SIGKILL the moment the engine reports the commit of
/// `container` done, while jenv is still checking and recording it. Returns the snapshot's tag.
fn kill_once_committed(sandbox: &Sandbox, project: &Path, container: &str) -> String {
    // From now on, so no earlier commit counts and none is missed while `docker events` connects.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    let mut events = Killed(
        sandbox
            .docker_command()
            .args(["events", "--since", &since, "--filter", &format!("container={container}")])
            .args(["--filter", "event=commit", "--format", "{{index .Actor.Attributes \"imageRef\"}}"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut snapshot = sandbox.command(project, &["snapshot", "-m", "killed"]);
    let mut snapshot = Killed(snapshot.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    let (sender, committed) = mpsc::channel();
    let stdout = events.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let reference = committed.recv_timeout(Duration::from_secs(300)).expect("the engine never committed the notebook");
    snapshot.0.kill().unwrap();
    let status = snapshot.0.wait().unwrap();
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut snapshot.0.stderr.take().unwrap(), &mut stderr);
    assert!(!status.success(), "jenv snapshot finished before it could be killed:\n{stderr}");
    reference.trim().rsplit(':').next().unwrap().to_string()
}

fn entry<'a>(history: &'a serde_json::Value, tag: &str) -> &'a serde_json::Value {
    let entries = history.as_array().unwrap();
    entries.iter().find(|e| e["tag"] == tag).unwrap_or_else(|| panic!("no {tag} in {history:#}"))
}

#[test]
fn a_snapshot_killed_after_its_commit_is_finished_by_the_next_command_or_shown_interrupted() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("killed");
    sandbox.jenv(&project, &["up"]).success();
    let status = json(&sandbox, &project, &["status", "--json"]);
    let (name, container) = (status["name"].as_str().unwrap(), status["container"].as_str().unwrap());
    let one = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    pip_install(&sandbox, &project, &one);

    let tag = kill_once_committed(&sandbox, &project, container);
    let run = sandbox.jenv(&project, &["history", "--json"]).success();
    let history: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let finished = entry(&history, &tag);
    assert!(finished["size_added"].as_i64().is_some_and(|size| size > 0), "{finished:#}");
    assert_eq!(finished["current"], true, "{finished:#}");
    assert_eq!(json(&sandbox, &project, &["status", "--json"])["changes"], 0, "the install is in the snapshot");
    assert_eq!(finished["interrupted"], false, "{finished:#}");
    assert!(run.stderr().contains(&format!("finished snapshot {tag}")), "{}", run.stderr());
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "");
    let lock = std::fs::read_to_string(project.join(".jupyter-env.lock")).unwrap();
    assert!(lock.contains(&format!("snapshot = \"{tag}\"")) && lock.contains("jenv-probe @ file://"), "{lock}");
    let table = sandbox.jenv(&project, &["history"]).success();
    assert!(!table.stdout().contains(" - "), "{}", table.stdout());
    assert!(!table.stderr().contains("finished"), "finished once: {}", table.stderr());

    // The commit caught an upgrade landing: the listing jenv took just before it still had
    // 1.0. No test can time that race, so the snapshot's note is edited to say so.
    let two = make_wheel(&sandbox, &project, "jenv_probe", "2.0");
    pip_install(&sandbox, &project, &two);
    let moved = kill_once_committed(&sandbox, &project, container);
    let note = sandbox.home.join("snapshots").join(name).join(format!("{moved}.pending"));
    let mut pending: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&note).unwrap()).unwrap();
    let before = pending["listing"].as_str().unwrap().replace("jenv_probe-2.0", "jenv_probe-1.0");
    pending["listing"] = before.into();
    std::fs::write(&note, pending.to_string()).unwrap();

    let history = sandbox.jenv(&project, &["history", "--json"]).success();
    assert!(history.stderr().contains(&format!("snapshot {moved} was interrupted")), "{}", history.stderr());
    let history: serde_json::Value = serde_json::from_str(&history.stdout()).unwrap();
    let interrupted = entry(&history, &moved);
    assert_eq!((&interrupted["interrupted"], &interrupted["current"]), (&true.into(), &false.into()));
    assert_eq!(entry(&history, &tag)["current"], true, "the finished one stays current");
    let table = sandbox.jenv(&project, &["history"]).success().stdout();
    assert!(table.lines().any(|l| l.contains(&moved) && l.contains("interrupted")), "{table}");
    assert_eq!(json(&sandbox, &project, &["status", "--json"])["changes"], 1, "the upgrade is in no snapshot");

    let pruned = sandbox.jenv(&project, &["prune"]).success();
    assert_eq!(pruned.stdout(), format!("removed {moved}\n"), "{}", pruned.stderr());
    let repository = format!("jenv/{name}");
    let gone = sandbox.docker_command().args(["image", "inspect", &format!("{repository}:{moved}")]).output().unwrap();
    assert!(!gone.status.success(), "the interrupted image is still there");
    assert!(!note.exists());
    let history = json(&sandbox, &project, &["history", "--json"]);
    let tags: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, [tag.as_str()]);
}
