//! A cloned project's manifest runs nothing until its user trusts it (direnv's `allow`, mise's
//! `trust`): refused without a terminal, asked once on one, and read-only commands still work.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::terminal::Terminal;
use common::{NotebookUrl, STACKS_IMAGE, Sandbox, http, test_image};

/// A folder whose manifest arrived with a clone: written by hand, never by this user's jenv.
fn cloned(sandbox: &Sandbox, folder: &str) -> PathBuf {
    let project = sandbox.root().join(folder);
    std::fs::create_dir_all(&project).unwrap();
    let name = format!("{folder}-{}", std::process::id());
    let manifest = format!(
        "name = \"{name}\"\nimage = \"{}\"\nrepository = \"jenv/{name}\"\n\n[ports]\njupyter = 8888\n",
        test_image()
    );
    std::fs::write(project.join(".jupyter-env"), manifest).unwrap();
    project
}

fn refused_as_untrusted(sandbox: &Sandbox, project: &Path, args: &[&str]) -> String {
    let stderr = sandbox.jenv(project, args).failure().stderr();
    let file = project.join(".jupyter-env");
    assert!(stderr.contains(&format!("{} is not trusted", file.display())), "jenv {args:?}: {stderr}");
    assert!(stderr.contains("run `jenv trust` in"), "jenv {args:?}: {stderr}");
    stderr
}

#[test]
fn a_cloned_manifest_runs_only_once_trusted_and_again_only_after_an_edit_is_trusted() {
    let sandbox = Sandbox::new();
    let project = cloned(&sandbox, "cloned");
    let stderr = refused_as_untrusted(&sandbox, &project, &["up"]);
    assert!(stderr.contains("you have not trusted it yet"), "{stderr}");
    for command in [&["exec", "--", "true"][..], &["snapshot"], &["rebuild"], &["rollback"], &["watch"], &["shell"]] {
        refused_as_untrusted(&sandbox, &project, command);
    }
    assert!(sandbox.containers().is_empty(), "nothing started");
    // Read-only commands still work, and say nothing about trust.
    for command in [&["status"][..], &["status", "--json"], &["history"]] {
        let run = sandbox.jenv(&project, command).success();
        assert!(!run.stderr().contains("trust"), "jenv {command:?}: {}", run.stderr());
    }
    let shown = sandbox.jenv(&project, &["trust", "--show"]).success().stdout();
    assert!(shown.contains(": not trusted") && shown.contains(&test_image()), "{shown}");
    refused_as_untrusted(&sandbox, &project, &["up"]);

    let trusted = sandbox.jenv(&project, &["trust"]).success().stdout();
    assert!(trusted.contains("trusted") && trusted.contains(&test_image()), "{trusted}");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(http(url.port, "GET", &format!("/api/status?token={}", url.token), None).0, 200);

    // Any edit makes it untrusted again; what runs already can still be looked at and stopped.
    let path = project.join(".jupyter-env");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&test_image(), STACKS_IMAGE)).unwrap();
    let stderr = refused_as_untrusted(&sandbox, &project, &["exec", "--", "true"]);
    assert!(stderr.contains("it changed since you trusted it"), "{stderr}");
    refused_as_untrusted(&sandbox, &project, &["up"]);
    let shown = sandbox.jenv(&project, &["trust", "--show"]).success().stdout();
    assert!(shown.contains(&format!("- image = \"{}\"", test_image())), "{shown}");
    assert!(shown.contains(&format!("+ image = \"{STACKS_IMAGE}\"")), "{shown}");
    for command in [&["status"][..], &["url"], &["diff"], &["logs"], &["history"]] {
        sandbox.jenv(&project, command).success();
    }
    let skip = sandbox.command(&project, &["exec", "--", "true"]).env("JENV_TRUST_ALL", "1").output().unwrap();
    assert!(skip.status.success(), "JENV_TRUST_ALL=1 skips the check: {}", String::from_utf8_lossy(&skip.stderr));
    std::fs::write(sandbox.home.join("config.toml"), "trust_all = true\n").unwrap();
    sandbox.jenv(&project, &["exec", "--", "true"]).success();
    std::fs::remove_file(sandbox.home.join("config.toml")).unwrap();

    // Trusting the edit lets it run; untrusting takes that back.
    sandbox.jenv(&project, &["trust"]).success();
    sandbox.jenv(&project, &["exec", "--", "true"]).success();
    sandbox.jenv(&project, &["untrust"]).success();
    refused_as_untrusted(&sandbox, &project, &["exec", "--", "true"]);
    sandbox.jenv(&project, &["down", "--discard"]).success();
    assert!(sandbox.containers().is_empty());
}

#[test]
fn manifests_jenv_writes_need_no_trust_step() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("written");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    sandbox.jenv(&project, &["exec", "--", "true"]).success();
    assert!(sandbox.jenv(&project, &["trust", "--show"]).success().stdout().contains(": trusted"));
    assert_eq!(http(url.port, "GET", &format!("/api/status?token={}", url.token), None).0, 200);
    sandbox.jenv(&project, &["down"]).success();

    let fresh = sandbox.root().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let up = sandbox.command(&fresh, &["up", "--init"]).env("JENV_DEFAULT_IMAGE", test_image()).output().unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    sandbox.jenv(&fresh, &["exec", "--", "true"]).success();
    sandbox.jenv(&fresh, &["down"]).success();
}

/// On a terminal, an edited manifest is shown as a diff, with what it reaches outside the folder,
/// and `y` trusts it and goes on.
#[test]
fn the_terminal_prompt_shows_the_diff_and_what_reaches_outside_and_accepts_y() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("prompted");
    let outside = sandbox.root().join("datasets");
    std::fs::create_dir_all(&outside).unwrap();
    let path = project.join(".jupyter-env");
    let text = std::fs::read_to_string(&path).unwrap();
    let mount = format!("\n[[mounts]]\nsource = \"{}\"\ntarget = \"/data\"\n", outside.display());
    std::fs::write(&path, text + &mount).unwrap();

    let terminal = Terminal::run(&sandbox, &project, &["up"]);
    terminal.expect("trust it and go on? [y/N]", Duration::from_secs(20));
    let screen = terminal.screen();
    assert!(screen.contains("changes since you trusted it"), "{screen}");
    assert!(screen.contains("+ target = \"/data\""), "{screen}");
    assert!(screen.contains(&format!("! mounts {} at /data (read-only)", outside.display())), "{screen}");
    assert!(sandbox.containers().is_empty(), "nothing starts before the answer");
    terminal.answer("y");
    terminal.expect("http://127.0.0.1:", Duration::from_secs(120));
    assert_eq!(terminal.exit_code(Duration::from_secs(10)), 0);
    sandbox.jenv(&project, &["exec", "--", "test", "-d", "/data"]).success();
    sandbox.jenv(&project, &["down"]).success();
}
