//! `jenv watch --yes --json` against the real engine: editor saves, bursts, failures and
//! installs made inside the notebook.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::channel;
use std::time::Duration;

use common::watcher::Watch;
use common::{Sandbox, make_wheel};
use serde_json::Value;

const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(120);

/// Saves like an editor: write a temp file beside the target, then rename it over.
fn editor_save(path: &Path, text: &str) {
    let tmp = path.with_extension("txt.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn history_len(sandbox: &Sandbox, project: &Path) -> usize {
    let history = sandbox.jenv(project, &["history", "--json"]).success().stdout();
    serde_json::from_str::<Vec<Value>>(&history).unwrap().len()
}

fn up_with_wheel(sandbox: &Sandbox, name: &str) -> (PathBuf, String) {
    let project = sandbox.project(name);
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(sandbox, &project, "jenv_probe", "1.0");
    (project, wheel)
}

#[test]
fn a_failed_install_takes_no_snapshot_and_an_editor_save_then_installs_and_snapshots() {
    let sandbox = Sandbox::new();
    let (project, wheel) = up_with_wheel(&sandbox, "editor");
    let watch = Watch::start(&sandbox, &project);
    let requirements = project.join("requirements.txt");

    editor_save(&requirements, "./dist/missing-9.9-py3-none-any.whl\n");
    let changed = watch.expect("file_changed", Duration::from_secs(30));
    assert_eq!(changed["lines"][0], "  + ./dist/missing-9.9-py3-none-any.whl (not installed)");
    watch.expect("install_failed", Duration::from_secs(60));
    assert_eq!(history_len(&sandbox, &project), 0, "a failed install leaves the image untouched");

    editor_save(&requirements, &format!("{wheel}\n"));
    let after_failure = watch.until("file_changed", Duration::from_secs(30));
    assert!(after_failure.iter().all(|e| e["event"] != "snapshot"), "{after_failure:?}");
    watch.expect("install_started", Duration::from_secs(30));
    watch.expect("installed", Duration::from_secs(60));
    watch.expect("snapshot", SNAPSHOT_TIMEOUT);
    assert_eq!(history_len(&sandbox, &project), 1);
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "", "the install is in the snapshot");

    std::fs::remove_file(&requirements).unwrap();
    watch.expect("file_deleted", Duration::from_secs(30));
    let code = "import jenv_probe; print(jenv_probe.VERSION)";
    let still = sandbox.jenv(&project, &["exec", "--", "python3", "-c", code]).success();
    assert_eq!(still.stdout().trim(), "1.0", "deleting the file uninstalls nothing");
}

#[test]
fn a_burst_of_five_writes_gives_one_install() {
    let sandbox = Sandbox::new();
    let (project, wheel) = up_with_wheel(&sandbox, "burst");
    // A long quiet time, so that a stalled test thread still writes within one burst.
    let watch = Watch::start_env(&sandbox, &project, &[("JENV_WATCH_DEBOUNCE_MS", "1500")]);
    let requirements = project.join("requirements.txt");
    for i in 0..5 {
        std::fs::write(&requirements, format!("# draft {i}\n{wheel}\n")).unwrap();
    }
    watch.expect("snapshot", SNAPSHOT_TIMEOUT);

    // Saving the same content again is not a change (heard for twice the quiet time).
    std::fs::write(&requirements, format!("# draft 4\n{wheel}\n")).unwrap();
    let again = watch.drain(Duration::from_secs(3));
    assert!(again.is_empty(), "one burst, one install, and nothing for the same content: {again:?}");
}

#[test]
fn installs_made_inside_the_notebook_are_noticed_and_snapshotted() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("inside");
    let mut watch = Watch::start(&sandbox, &project);
    watch.expect("waiting_for_notebook", Duration::from_secs(30));
    assert!(watch.is_running(), "a stopped notebook is waited for");

    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    sandbox
        .jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet", &wheel])
        .success();
    let changed = watch.expect("packages_changed", Duration::from_secs(30));
    assert_eq!(changed["changes"], serde_json::json!(["+ jenv-probe 1.0 (pip)"]));
    watch.expect("snapshot", SNAPSHOT_TIMEOUT);
    assert_eq!(history_len(&sandbox, &project), 1);
    sandbox.jenv(&project, &["down"]).success();
}

#[test]
fn up_watch_attaches_watches_and_stops_cleanly_on_ctrl_c() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("upwatch");
    let mut child = sandbox
        .command(&project, &["up", "--watch", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    common::NotebookUrl::parse(&first);
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_line_with = |needle: &str| loop {
        let line = lines.recv_timeout(SNAPSHOT_TIMEOUT).unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    };
    next_line_with("watching requirements.txt");

    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    editor_save(&project.join("requirements.txt"), &format!("{wheel}\n"));
    next_line_with("installing: python3 -m pip install --no-input -r requirements.txt");
    next_line_with("snapshot ");
    assert_eq!(history_len(&sandbox, &project), 1);

    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "everything was snapshotted, so Ctrl-C stops the notebook");
    assert!(sandbox.containers().is_empty());
}

/// `yes = true` under [watch] in the user config installs unattended in every folder; `--ask`
/// takes that back for one run (without a terminal: the change is reported, nothing installed).
#[test]
fn the_user_configs_watch_yes_applies_and_ask_overrides_it() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("configured");
    std::fs::write(sandbox.home.join("config.toml"), "[watch]\nyes = true\n").unwrap();
    sandbox.jenv(&project, &["up"]).success();
    let wheel = make_wheel(&sandbox, &project, "jenv_configured", "1.0");
    {
        let watch = Watch::start_with(&sandbox, &project, &["watch", "--ask", "--json"]);
        editor_save(&project.join("requirements.txt"), &format!("{wheel}\n"));
        let skipped = watch.expect("skipped", Duration::from_secs(60));
        assert!(skipped["reason"].as_str().unwrap().contains("no terminal to ask"), "{skipped}");
    }
    let diff = sandbox.jenv(&project, &["diff"]).success();
    assert!(!diff.stdout().contains("jenv-configured"), "--ask installed nothing: {}", diff.stdout());

    let watch = Watch::start_with(&sandbox, &project, &["watch", "--json"]);
    editor_save(&project.join("requirements.txt"), &format!("# again\n{wheel}\n"));
    watch.expect("installed", Duration::from_secs(120));
    watch.expect("snapshot", SNAPSHOT_TIMEOUT);
}
