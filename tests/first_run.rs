//! `cd project && jenv up` in a folder with no manifest: asked once on a terminal, written
//! without asking with `--init`, refused as before without a terminal; the user's config
//! supplies the defaults.

mod common;

use std::time::Duration;

use common::terminal::Terminal;
use common::{NotebookUrl, Sandbox, http, test_image};

fn fresh(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
    let folder = sandbox.root().join(name);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn user_config(sandbox: &Sandbox, text: &str) {
    std::fs::create_dir_all(&sandbox.home).unwrap();
    std::fs::write(sandbox.home.join("config.toml"), text).unwrap();
}

#[test]
fn without_a_terminal_nothing_is_written_unless_init_is_given() {
    // The user config's port_range is the subject here: JENV_PORT_RANGE would beat it.
    let sandbox = Sandbox::with_env(&test_image(), None, &[("JENV_PORT_RANGE", None)]);
    let folder = fresh(&sandbox, "plain");
    let refused = sandbox.jenv(&folder, &["up"]).failure().stderr();
    assert!(refused.contains("no .jupyter-env found") && refused.contains("jenv up --init"), "{refused}");
    assert!(!folder.join(".jupyter-env").exists());

    // The user's config names the image and the port range, which jenv keeps to.
    let port = common::free_port();
    user_config(
        &sandbox,
        &format!("image = \"{}\"\nport_range = \"{port}-{port}\"\nui = \"notebook\"\n", test_image()),
    );
    let up = sandbox.jenv(&folder, &["up", "--init"]).success();
    let url = NotebookUrl::parse(&up.stdout());
    assert_eq!(url.port, port, "from port_range in the user config");
    assert!(up.stdout().contains("/tree?token="), "ui from the user config: {}", up.stdout());
    assert_eq!(http(url.port, "GET", &format!("/api/status?token={}", url.token), None).0, 200);
    let manifest = std::fs::read_to_string(folder.join(".jupyter-env")).unwrap();
    assert!(manifest.contains(&format!("image = \"{}\"", test_image())), "{manifest}");
    assert!(up.stderr().contains("wrote"), "{}", up.stderr());
    assert!(up.stderr().contains("waiting for Jupyter to answer"), "progress shows: {}", up.stderr());
    sandbox.jenv(&folder, &["down"]).success();
    let quiet = sandbox.jenv(&folder, &["--quiet", "up"]).success();
    assert!(!quiet.stderr().contains("waiting for Jupyter"), "--quiet hides progress: {}", quiet.stderr());
    assert_eq!(NotebookUrl::parse(&quiet.stdout()), url, "the result still prints");
    sandbox.jenv(&folder, &["down", "-q"]).success();

    user_config(&sandbox, "imgae = \"typo\"\n");
    let bad = sandbox.jenv(&fresh(&sandbox, "typo"), &["up", "--init"]).failure().stderr();
    assert!(bad.contains("config.toml is not a valid jenv config") && bad.contains("imgae"), "{bad}");
}

#[test]
fn on_a_terminal_the_manifest_is_shown_and_written_only_on_yes() {
    let sandbox = Sandbox::new();
    user_config(&sandbox, "image = \"ignored:1\"\n");
    let declined = fresh(&sandbox, "declined");
    let terminal = Terminal::run(&sandbox, &declined, &["up"]);
    terminal.expect("write it and start the notebook? [y/N]", Duration::from_secs(20));
    assert!(terminal.screen().contains("image = \"ignored:1\""), "{}", terminal.screen());
    terminal.answer("n");
    assert_ne!(terminal.exit_code(Duration::from_secs(10)), 0);
    assert!(!declined.join(".jupyter-env").exists(), "nothing written on no");

    // JENV_DEFAULT_IMAGE beats the config file.
    let accepted = fresh(&sandbox, "accepted");
    let mut command = sandbox.command(&accepted, &["up"]);
    command.env("JENV_DEFAULT_IMAGE", test_image());
    let terminal = Terminal::run_command(&sandbox, &accepted, &command);
    terminal.expect("write it and start the notebook? [y/N]", Duration::from_secs(20));
    assert!(terminal.screen().contains(&format!("image = \"{}\"", test_image())), "{}", terminal.screen());
    terminal.answer("y");
    terminal.expect("http://127.0.0.1:", Duration::from_secs(120));
    assert_eq!(terminal.exit_code(Duration::from_secs(10)), 0);
    assert!(accepted.join(".jupyter-env").exists());
    sandbox.jenv(&accepted, &["exec", "--", "true"]).success();
    sandbox.jenv(&accepted, &["down"]).success();
}

/// Two `jenv up --init` at once in one fresh folder: one manifest, one container, one URL.
#[test]
fn two_first_runs_at_once_share_one_manifest_and_notebook() {
    let sandbox = Sandbox::new();
    let folder = fresh(&sandbox, "twice");
    let start = || {
        sandbox
            .command(&folder, &["up", "--init"])
            .env("JENV_DEFAULT_IMAGE", test_image())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    let first = common::Run(first.wait_with_output().unwrap()).success();
    let second = common::Run(second.wait_with_output().unwrap()).success();
    assert_eq!(NotebookUrl::parse(&first.stdout()), NotebookUrl::parse(&second.stdout()));
    assert_eq!(sandbox.containers().len(), 1);
    assert!(sandbox.jenv(&folder, &["trust", "--show"]).success().stdout().contains(": trusted"));
    sandbox.jenv(&folder, &["down"]).success();
}

/// The moment a manifest written by `jenv init` appears, another jenv already finds it trusted:
/// the trust record is written before the file. The test holds jenv's state lock (which the
/// trust record is written under), so a writer that put the file first would be caught with
/// the file out and its record not yet written.
#[test]
fn a_manifest_jenv_writes_is_trusted_from_the_moment_it_appears() {
    let sandbox = Sandbox::new();
    let folder = fresh(&sandbox, "race");
    let manifest = folder.join(".jupyter-env");
    std::fs::create_dir_all(&sandbox.home).unwrap();
    let state_lock = std::fs::File::create(sandbox.home.join("state.lock")).unwrap();
    state_lock.lock().unwrap();
    let mut init = sandbox.command(&folder, &["init", "--image", &test_image()]);
    let writer = init.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Wait until the writer is blocked on the lock (the kernel lists it as a waiter): a writer
    // that trusts first is then still without its file; one that wrote the file first shows it.
    let inode = std::os::unix::fs::MetadataExt::ino(&state_lock.metadata().unwrap());
    common::eventually("jenv init to wait for the state lock", Duration::from_secs(60), || {
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        locks
            .lines()
            .any(|line| line.contains("->") && line.split_whitespace().any(|f| f.ends_with(&format!(":{inode}"))))
    });
    if manifest.exists() {
        let show = sandbox.jenv(&folder, &["trust", "--show"]).success().stdout();
        assert!(show.lines().next().unwrap_or_default().ends_with(": trusted"), "{show}");
    }
    drop(state_lock);
    common::Run(writer.wait_with_output().unwrap()).success();
    let show = sandbox.jenv(&folder, &["trust", "--show"]).success().stdout();
    assert!(show.lines().next().unwrap_or_default().ends_with(": trusted"), "{show}");
}
