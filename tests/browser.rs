//! The URL `jenv up` prints, opened in a real browser (Debian's headless Chromium): the notebook
//! UI renders, with the folder's files listed by its JavaScript, and no login page appears.
//! Skipped, loudly, where chromium is not installed (outside CI); `scripts/test.sh` installs it
//! when it runs as root. `JENV_SCREENSHOT=docs/jupyterlab.png` also keeps the Lab screenshot.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{NotebookUrl, STACKS_IMAGE, Sandbox, test_image};

/// The longest the UI may take to render, counted from the first attempt.
const RENDER_DEADLINE: Duration = Duration::from_secs(180);
/// Chromium's own clock budget per load: it lets the page's scripts and requests finish.
const VIRTUAL_TIME_MS: &str = "15000";
/// A file the UI can only show by listing the folder through Jupyter's API from JavaScript.
const PROBE: &str = "hello-from-jenv.ipynb";

#[test]
fn jupyterlab_renders_on_the_docker_stacks_image() {
    let Some(browser) = Browser::find() else { return };
    let sandbox = Sandbox::for_image(STACKS_IMAGE, None);
    let project = project_with_probe(&sandbox, "lab");
    let url = sandbox.jenv(&project, &["up"]).success().stdout().trim().to_string();
    assert_eq!(NotebookUrl::parse(&url).ui, "lab");

    let dom = browser.dom_until(&url, |dom| dom.contains("jp-LabShell") && dom.contains(PROBE));
    assert!(dom.contains("jp-Launcher"), "the Launcher is open in a fresh Lab");
    assert_no_login_page(&dom);

    let shot = browser.screenshot(&url);
    if let Ok(keep) = std::env::var("JENV_SCREENSHOT") {
        std::fs::copy(&shot, &keep).unwrap();
    }
    assert_login_page_without_token(&browser, &url);
}

#[test]
fn the_classic_tree_renders_on_the_debian_image() {
    let Some(browser) = Browser::find() else { return };
    let sandbox = Sandbox::for_image(&test_image(), None);
    let project = project_with_probe(&sandbox, "tree");
    let url = sandbox.jenv(&project, &["up"]).success().stdout().trim().to_string();
    assert_eq!(NotebookUrl::parse(&url).ui, "tree");

    // The tree page is a template; the file list in it is filled in by the page's scripts.
    let dom = browser.dom_until(&url, |dom| dom.contains("id=\"notebook_list\"") && dom.contains(PROBE));
    assert!(dom.contains("<title>Home Page - Select or create a notebook</title>"), "{dom}");
    assert_no_login_page(&dom);
    assert_login_page_without_token(&browser, &url);
}

fn project_with_probe(sandbox: &Sandbox, name: &str) -> PathBuf {
    let project = sandbox.project(name);
    let notebook = r#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
    std::fs::write(project.join(PROBE), notebook).unwrap();
    project
}

/// Jupyter's login page is a form asking for a password or token.
fn is_login_page(dom: &str) -> bool {
    dom.contains("type=\"password\"") || dom.contains("action=\"/login")
}

#[track_caller]
fn assert_no_login_page(dom: &str) {
    assert!(!is_login_page(dom), "the token URL showed a login page:\n{dom}");
}

/// The same page without the token, in a fresh profile (the first load left a login cookie),
/// is the login page: the check above can see one.
#[track_caller]
fn assert_login_page_without_token(browser: &Browser, url: &str) {
    let stranger = Browser { program: browser.program.clone(), profile: tempfile::tempdir().unwrap() };
    stranger.dom_until(url.split_once("?token=").unwrap().0, is_login_page);
}

struct Browser {
    program: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Debian's chromium; `None` (with a message) where it is missing, except on CI.
    fn find() -> Option<Browser> {
        let found = std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file()));
        match found {
            Some(program) => Some(Browser { program, profile: tempfile::tempdir().unwrap() }),
            None if std::env::var_os("CI").is_some() => {
                panic!("chromium is missing on CI: scripts/test.sh installs it")
            }
            None => {
                eprintln!("skipped: chromium is not installed (scripts/test.sh installs it when run as root)");
                None
            }
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .arg(format!("--virtual-time-budget={VIRTUAL_TIME_MS}"))
            .arg("--window-size=1280,800");
        command
    }

    /// Loads `url` until its rendered DOM satisfies `done`, each load a fresh page.
    #[track_caller]
    fn dom_until(&self, url: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + RENDER_DEADLINE;
        loop {
            let out = self.command().arg("--dump-dom").arg(url).output().unwrap();
            let dom = String::from_utf8_lossy(&out.stdout).to_string();
            if done(&dom) {
                return dom;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not render within {}s; last DOM:\n{dom}\nchromium said:\n{}",
                RENDER_DEADLINE.as_secs(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// A 1280x800 PNG of the page as rendered.
    #[track_caller]
    fn screenshot(&self, url: &str) -> PathBuf {
        let path = self.profile.path().join("screenshot.png");
        let out = self.command().arg(format!("--screenshot={}", path.display())).arg(url).output().unwrap();
        let png = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (width, height) = (be32(&png[16..20]), be32(&png[20..24]));
        assert_eq!((width, height), (1280, 800));
        path
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().unwrap())
}
