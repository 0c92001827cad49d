//! The whole journey — up, a kernel round trip through the URL, file ownership, a kernel started
//! without a notebook path working in the folder, down/up at the same URL, installs from `exec`,
//! `shell` and the watcher that survive a snapshot — on both test images (the Debian image and
//! the docker-stacks fixture), as root and as a host uid that is neither root nor the images' 1000.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::kernel::{run_cell, run_in_new_kernel};
use common::watcher::Watch;
use common::{NotebookUrl, STACKS_IMAGE, Sandbox, http, make_wheel, test_image};

const OTHER_UID: u32 = 1234;

#[test]
fn journey_on_the_debian_image_as_root() {
    journey(&test_image(), None);
}

#[test]
fn journey_on_the_debian_image_as_another_uid() {
    if common::is_root() {
        journey(&test_image(), Some(OTHER_UID));
    } else {
        eprintln!("skipped: needs root to run jenv as uid {OTHER_UID}");
    }
}

#[test]
fn journey_on_docker_stacks_as_root() {
    journey(STACKS_IMAGE, None);
}

#[test]
fn journey_on_docker_stacks_as_another_uid() {
    if common::is_root() {
        journey(STACKS_IMAGE, Some(OTHER_UID));
    } else {
        eprintln!("skipped: needs root to run jenv as uid {OTHER_UID}");
    }
}

fn journey(image: &str, uid: Option<u32>) {
    let sandbox = Sandbox::for_image(image, uid);
    let who = format!("{image} as uid {}", sandbox.host_uid());
    let project = sandbox.project("journey");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());

    // A kernel, reached through the printed URL, runs as the host user in the folder.
    let cell = run_cell(&url, "import os; open('from-kernel.txt', 'w').write('hi'); print(os.getuid(), os.getcwd())");
    assert_eq!(cell.error, None, "{who}");
    assert!(cell.stdout.starts_with(&format!("{} ", sandbox.host_uid())), "{who}: {}", cell.stdout);
    let meta = std::fs::metadata(project.join("from-kernel.txt")).unwrap();
    let uid = sandbox.host_uid();
    assert_eq!((meta.uid(), meta.gid()), (uid, uid), "{who}: the kernel's file belongs to the host user");

    // A kernel started without a notebook path (API clients, editors attached to the URL) works
    // in the folder too, and the contents API still names the folder's files from its root.
    let cell = run_in_new_kernel(&url, "import os; open('no-path.txt', 'w').write('hi'); print(os.getcwd())");
    assert_eq!(cell.error, None, "{who}");
    assert_eq!(cell.stdout.trim(), "/home/jovyan/work", "{who}: a kernel without a path runs in the folder");
    assert!(project.join("no-path.txt").is_file(), "{who}: its file is in the folder");
    let (status, body) = http(url.port, "GET", &format!("/api/contents/no-path.txt?token={}", url.token), None);
    assert_eq!(status, 200, "{who}: the contents API serves the folder's files at its root: {body}");

    // Installs from `jenv exec` and `jenv shell` work, without pip complaining about its cache.
    let first = make_wheel(&sandbox, &project, "jenv_exec_probe", "1.0");
    let exec = sandbox.jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", &first]);
    let exec = exec.success();
    assert_no_pip_warning(&who, &exec.stderr());
    let second = make_wheel(&sandbox, &project, "jenv_shell_probe", "1.0");
    let shell = shell(&sandbox, &project, &format!("python3 -m pip install --no-index {second} 2>&1; exit $?"));
    assert!(shell.contains("Successfully installed jenv-shell-probe-1.0"), "{who}: {shell}");
    assert_no_pip_warning(&who, &shell);

    // The watcher installs a requirement file's wheel and snapshots it.
    let third = make_wheel(&sandbox, &project, "jenv_watch_probe", "1.0");
    {
        let watch = Watch::start(&sandbox, &project);
        std::fs::write(project.join("requirements.txt"), format!("./{third}\n")).unwrap();
        watch.expect("installed", Duration::from_secs(120));
        watch.expect("snapshot", Duration::from_secs(120));
    }
    let diff = sandbox.jenv(&project, &["diff"]).success().stdout();
    assert_eq!(diff, "", "{who}: the watcher's snapshot holds every install");

    sandbox.jenv(&project, &["down"]).success();
    let again = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(again, url, "{who}: down/up keeps the URL");
    let code = "import jenv_exec_probe, jenv_shell_probe, jenv_watch_probe; print('all', jenv_watch_probe.VERSION)";
    let cell = run_cell(&again, code);
    assert_eq!(cell.error, None, "{who}: installs survive the snapshot");
    assert_eq!(cell.stdout.trim(), "all 1.0", "{who}");
    sandbox.jenv(&project, &["down"]).success();
}

/// Runs `script` in `jenv shell` fed from stdin (no terminal) and returns what it printed.
fn shell(sandbox: &Sandbox, project: &Path, script: &str) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut command = sandbox.command(project, &["shell"]);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{script}\n").as_bytes()).unwrap();
    let run = common::Run(child.wait_with_output().unwrap()).success();
    run.stdout() + &run.stderr()
}

#[track_caller]
fn assert_no_pip_warning(who: &str, output: &str) {
    for warning in ["is not writable", "not owned", "Permission denied", "WARNING: The directory"] {
        assert!(!output.contains(warning), "{who}: pip warned `{warning}`:\n{output}");
    }
}
