//! `jenv open`: `$BROWSER` first, then the platform's opener, and the URL printed when none works.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Run, Sandbox};

#[test]
fn browser_gets_the_url_and_without_any_opener_the_url_is_printed() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("open");
    let url = sandbox.jenv(&project, &["up"]).success().stdout().trim().to_string();

    let bin = sandbox.root().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let browser = bin.join("fake-browser");
    std::fs::write(&browser, "#!/bin/sh\nprintf '%s' \"$1\" > \"$0.opened\"\n").unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opened = Run::from_command(sandbox.command(&project, &["open"]).env("BROWSER", &browser)).success();
    // jenv takes a browser still running after a moment as opened: the file may come after it returns.
    let written = bin.join("fake-browser.opened");
    common::eventually("the browser to get the URL", std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&written).is_ok_and(|text| text == url)
    });
    assert_eq!(opened.stdout(), "", "nothing to copy when a browser opened it");
    assert!(opened.stderr().contains("opened the notebook with"), "{}", opened.stderr());

    // No BROWSER and no xdg-open on PATH: the URL, for the user to open.
    let empty = sandbox.root().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut command = sandbox.command(&project, &["open"]);
    let printed = Run::from_command(command.env_remove("BROWSER").env("PATH", &empty)).success();
    assert_eq!(printed.stdout(), format!("{url}\n"));
    assert!(
        printed.stderr().contains("no browser opened it: `xdg-open URL` is not installed. Open this URL yourself:"),
        "{}",
        printed.stderr()
    );

    // A BROWSER that fails is named too, and the platform opener is still tried after it.
    let mut command = sandbox.command(&project, &["open"]);
    let failed = Run::from_command(command.env("BROWSER", "/bin/false").env("PATH", &empty)).success();
    assert_eq!(failed.stdout(), format!("{url}\n"));
    assert!(failed.stderr().contains("`/bin/false URL` failed (exit status: 1)"), "{}", failed.stderr());
    assert!(failed.stderr().contains("`xdg-open URL` is not installed"), "{}", failed.stderr());
}
