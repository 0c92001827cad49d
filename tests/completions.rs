//! Shell completions loaded by a real bash, and the man pages.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Run, Sandbox};

const JENV: &str = env!("CARGO_BIN_EXE_jenv");

/// Runs `script` in a non-interactive bash after sourcing `jenv completions bash`.
fn bash_with_completions(dir: &Path, home: &Path, script: &str) -> Run {
    let script = format!("source <({JENV} completions bash) || exit 9\n{script}");
    Run::from_command(Command::new("bash").args(["-c", &script]).current_dir(dir).env("JENV_HOME", home))
}

/// What bash offers for the command line `words` (the last one being completed), one per line.
fn complete(dir: &Path, home: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_TYPE=9\n\
         _clap_complete_jenv jenv {current} {previous}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len() - 1,
        current = quoted[words.len() - 1],
        previous = quoted[words.len() - 2],
    );
    let run = bash_with_completions(dir, home, &script).success();
    run.stdout().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[test]
fn bash_loads_the_script_and_completes_commands_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let registered = bash_with_completions(tmp.path(), tmp.path(), "complete -p jenv").success();
    assert!(registered.stdout().contains("-F _clap_complete_jenv jenv"), "{}", registered.stdout());

    assert_eq!(complete(tmp.path(), tmp.path(), &["jenv", "roll"]), ["rollback"]);
    let commands = complete(tmp.path(), tmp.path(), &["jenv", ""]);
    for command in ["up", "down", "snapshot", "completions", "man"] {
        assert!(commands.iter().any(|c| c == command), "{command} missing from {commands:?}");
    }
    assert_eq!(complete(tmp.path(), tmp.path(), &["jenv", "down", "--disc"]), ["--discard"]);
    assert_eq!(complete(tmp.path(), tmp.path(), &["jenv", "completions", "po"]), ["powershell"]);
    // Outside a project there are no tags, and no error reaches the shell.
    let tags = complete(tmp.path(), tmp.path(), &["jenv", "rollback", ""]);
    assert!(tags.iter().all(|t| t.starts_with('-')), "{tags:?}");
}

#[test]
fn every_shell_gets_a_script_that_calls_jenv_back() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Run::from_command(Command::new(JENV).args(["completions", shell])).success();
        assert!(out.stdout().contains("COMPLETE") && out.stdout().contains(JENV), "{shell}:\n{}", out.stdout());
    }
    let unknown = Run::from_command(Command::new(JENV).args(["completions", "tcsh"])).failure();
    assert!(unknown.stderr().contains("possible values: bash, zsh, fish, powershell, elvish"), "{}", unknown.stderr());
}

#[test]
fn rollback_completes_this_folders_snapshot_tags() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("tags");
    sandbox.jenv(&project, &["up"]).success();
    let tag = sandbox.jenv(&project, &["snapshot", "-m", "first"]).success().stdout();
    let tag = tag.trim().rsplit(':').next().unwrap().to_string();

    let offered = complete(&project, &sandbox.home, &["jenv", "rollback", ""]);
    assert!(offered.contains(&tag), "{tag} not offered: {offered:?}");
    let prefix = &tag[..4];
    let offered = complete(&project, &sandbox.home, &["jenv", "rollback", prefix]);
    assert_eq!(offered, [tag]);
    assert_eq!(complete(&project, &sandbox.home, &["jenv", "rollback", "nomatch"]), Vec::<String>::new());
}

#[test]
fn man_prints_a_roff_page_and_writes_one_per_command() {
    let page = Run::from_command(Command::new(JENV).arg("man")).success().stdout();
    let title = page.lines().position(|l| l.starts_with(".TH jenv 1"));
    let name = page.lines().position(|l| l == ".SH NAME");
    assert!(title.is_some() && title < name, "no .TH line before the first section:\n{page}");
    assert!(page.contains("doctor") || page.contains("rollback"), "subcommands listed:\n{page}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    Run::from_command(Command::new(JENV).args(["man", "--dir"]).arg(&out)).success();
    for page in ["jenv.1", "jenv-up.1", "jenv-rollback.1", "jenv-completions.1", "jenv-man.1"] {
        let text = std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.lines().any(|l| l.starts_with(".TH ")), "{page} has no .TH line");
    }
}
