//! Many notebooks at a glance and idle ones stopped, on both test images, as root and as a host
//! uid that is neither root nor the images' 1000: `jenv top` counts a busy kernel busy, an idle
//! one idle, an install no snapshot holds, and a kernel killed for lack of memory; `down --idle`
//! stops only the idle notebook; an `idle_stop` notebook stops by itself and comes back at the
//! same URL with its install.

mod common;

use std::path::Path;
use std::time::Duration;

use common::kernel::{run_until_the_kernel_dies, start_cell, start_kernel};
use common::terminal::Terminal;
use common::{NotebookUrl, STACKS_IMAGE, Sandbox, eventually, http, make_wheel, test_image};
use serde_json::Value;

const OTHER_UID: u32 = 1234;

#[test]
fn top_and_idle_stops_on_the_debian_image_as_root() {
    top_and_idle_stops(&test_image(), None);
}

#[test]
fn top_and_idle_stops_on_the_debian_image_as_another_uid() {
    if common::is_root() {
        top_and_idle_stops(&test_image(), Some(OTHER_UID));
    } else {
        eprintln!("skipped: needs root to run jenv as uid {OTHER_UID}");
    }
}

#[test]
fn top_and_idle_stops_on_docker_stacks_as_root() {
    top_and_idle_stops(STACKS_IMAGE, None);
}

#[test]
fn top_and_idle_stops_on_docker_stacks_as_another_uid() {
    if common::is_root() {
        top_and_idle_stops(STACKS_IMAGE, Some(OTHER_UID));
    } else {
        eprintln!("skipped: needs root to run jenv as uid {OTHER_UID}");
    }
}

fn top_and_idle_stops(image: &str, uid: Option<u32>) {
    let sandbox = Sandbox::for_image(image, uid);
    let who = format!("{image} as uid {}", sandbox.host_uid());
    let busy = sandbox.project("busy");
    let installed = sandbox.project("installed");
    // The idle notebook: its kernel dies for memory, Jupyter starts it again, and it idles.
    let idle = sandbox.project("idle");
    sandbox.edit_manifest(&idle, |text| text.replace("[ports]", "[resources]\nmemory = \"384m\"\n\n[ports]"));
    let sleepy = sandbox.project("sleepy");
    sandbox.edit_manifest(&sleepy, |text| format!("idle_stop = \"1m\"\n{text}"));

    // All four start together, as people start them.
    let urls: Vec<NotebookUrl> = std::thread::scope(|scope| {
        let ups: Vec<_> = [&busy, &idle, &installed, &sleepy]
            .map(|dir| scope.spawn(|| NotebookUrl::parse(&sandbox.jenv(dir, &["up"]).success().stdout())))
            .into_iter()
            .collect();
        ups.into_iter().map(|up| up.join().unwrap()).collect()
    });
    let [busy_url, idle_url, _, sleepy_url] = <[NotebookUrl; 4]>::try_from(urls).unwrap();
    let names = |dir: &Path| name_of(&sandbox, dir);

    // The sleepy notebook gets an install only its container holds, then is left alone.
    let wheel = make_wheel(&sandbox, &sleepy, "sleepy_probe", "1.0");
    sandbox.jenv(&sleepy, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", &wheel]).success();

    start_cell(&busy_url, &start_kernel(&busy_url), "import time; time.sleep(900)");
    let wheel = make_wheel(&sandbox, &installed, "top_probe", "1.0");
    sandbox.jenv(&installed, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", &wheel]).success();
    // A kernel that allocates past the 384m limit is killed by the kernel; the notebook lives on.
    // (Waited for here: a `docker exec` into the container while it is out of memory, the test's
    // own included, would be the next thing killed.)
    let killed = start_kernel(&idle_url);
    run_until_the_kernel_dies(&idle_url, &killed, "x = b'x' * (1024 * 1024 * 1024)");
    // Jupyter starts it again, but with no client attached the classic notebook never hears it go
    // idle and lists it busy still: it is replaced by a fresh kernel, as a person would.
    // (Jupyter refuses while the restart is under way.)
    eventually(&format!("{who}: the restarted kernel is shut down"), Duration::from_secs(60), || {
        let path = format!("/api/kernels/{killed}?token={}", idle_url.token);
        http(idle_url.port, "DELETE", &path, None).0 == 204
    });
    start_kernel(&idle_url);

    // Jupyter records a kernel busy as the kernel says so, and the kill when the kernel dies.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let sample = loop {
        let sample = top(&sandbox, &busy);
        let (idle_entry, busy_entry) = (entry(&sample, &names(&idle)), entry(&sample, &names(&busy)));
        if idle_entry["oom_kills"].as_u64().unwrap_or(0) >= 1
            && idle_entry["kernels"]["idle"] == 1
            && busy_entry["kernels"]["busy"] == 1
        {
            break sample;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{who}: top never counted the busy kernel, the killed one and its restart:\n{busy_entry}\n{idle_entry}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let busy_entry = entry(&sample, &names(&busy));
    assert_eq!(busy_entry["kernels"]["busy"], 1, "{who}: {busy_entry}");
    let idle_entry = entry(&sample, &names(&idle));
    assert_eq!((&idle_entry["kernels"]["busy"], &idle_entry["kernels"]["idle"]), (&0.into(), &1.into()), "{who}");
    let installed_entry = entry(&sample, &names(&installed));
    assert_eq!(installed_entry["changes"], 1, "{who}: the install is counted");
    assert_eq!(busy_entry["changes"], 0, "{who}: nothing installed, nothing counted");
    for e in [busy_entry, installed_entry] {
        assert!(e["memory"]["used_bytes"].as_u64().unwrap() > 10_000_000, "{who}: {e}");
        assert!(e["memory"]["limit_bytes"].is_null(), "{who}: no limit set: {e}");
        assert!(e["cpu_percent"].is_number(), "{who}: {e}");
        assert_eq!(e["oom_kills"], 0, "{who}: {e}");
        assert!(e["last_activity"].as_str().unwrap().starts_with("20"), "{who}: {e}");
        assert_eq!(e["state"], "running");
    }
    assert_eq!(idle_entry["memory"]["limit_bytes"], 384 * 1024 * 1024, "{who}: {idle_entry}");
    assert_eq!(idle_entry["state"], "running", "{who}: a kernel died, the notebook did not");
    let status = sandbox.jenv(&idle, &["status"]).success().stdout();
    assert!(status.contains("a kernel was killed for lack of memory (limit 384m)"), "{who}: {status}");
    // Looking is not activity: the table asks Jupyter without moving its last activity.
    // (Asked of the notebook with no kernel, whose activity nothing else moves.)
    let before = entry(&top(&sandbox, &busy), &names(&installed))["last_activity"].clone();
    assert_eq!(entry(&top(&sandbox, &busy), &names(&installed))["last_activity"], before, "{who}");
    let table = sandbox.jenv(&busy, &["top"]).success().stdout();
    assert!(table.starts_with("NAME") && table.contains("LAST ACTIVITY"), "{who}: {table}");
    assert!(table.lines().any(|l| l.starts_with(&names(&busy)) && l.contains(" 1 / 0 ")), "{who}: {table}");
    // On a terminal it redraws until `q`, and leaves the terminal as it found it.
    let terminal = Terminal::run(&sandbox, &busy, &["top"]);
    terminal.expect(&names(&busy), Duration::from_secs(30));
    let first = terminal.screen();
    let heading = |screen: &str| screen.lines().find(|l| l.starts_with("jenv top: ")).map(str::to_string);
    assert!(heading(&first).is_some(), "{who}: {first}");
    eventually(&format!("{who}: top redraws"), Duration::from_secs(20), || {
        heading(&terminal.screen()) != heading(&first)
    });
    terminal.keys("q");
    assert_eq!(terminal.exit_code(Duration::from_secs(10)), 0, "{who}");
    assert!(heading(&terminal.screen()).is_none(), "{who}: the table went with the alternate screen");

    // `down --idle`: the idle notebook stops; the busy one and the one with an install stay.
    let outcome =
        |args: &[&str]| -> Vec<Value> { serde_json::from_str(&sandbox.jenv(&busy, args).success().stdout()).unwrap() };
    let action = |outcomes: &[Value], dir: &Path| {
        let name = names(dir);
        let found = outcomes.iter().find(|o| o["name"] == name.as_str());
        found.unwrap_or_else(|| panic!("{who}: {name} not in {outcomes:?}"))["action"].as_str().unwrap().to_string()
    };
    let mut planned = Vec::new();
    eventually(&format!("{who}: the idle notebook is idle for 2 s"), Duration::from_secs(60), || {
        planned = outcome(&["down", "--idle", "2s", "--dry-run", "--json"]);
        action(&planned, &idle) == "would_stop"
    });
    assert_eq!(action(&planned, &busy), "kept", "{who}: {planned:?}");
    assert_eq!(action(&planned, &installed), "skipped", "{who}: {planned:?}");
    assert_eq!(sandbox.containers().len(), 4, "{who}: a dry run stops nothing");
    let done = outcome(&["down", "--idle", "2s", "--json"]);
    assert_eq!(action(&done, &idle), "stopped", "{who}: {done:?}");
    assert_eq!(action(&done, &busy), "kept", "{who}: {done:?}");
    let skipped = done.iter().find(|o| o["name"] == names(&installed).as_str()).unwrap();
    assert_eq!(skipped["action"], "skipped", "{who}: {done:?}");
    assert!(skipped["reason"].as_str().unwrap().contains("jenv snapshot"), "{who}: {skipped}");
    assert_eq!(state(&sandbox, &idle), "absent", "{who}");
    assert_eq!(state(&sandbox, &busy), "running", "{who}");
    assert_eq!(state(&sandbox, &installed), "running", "{who}");

    // The `idle_stop` notebook stops by itself (Jupyter exits after a minute of idleness), is
    // kept, and comes back at the same URL with the install its container holds.
    let container = format!("jenv-{}", names(&sleepy));
    eventually(&format!("{who}: the idle_stop notebook stops by itself"), Duration::from_secs(300), || {
        sandbox.docker(&["inspect", "--format", "{{.State.Status}}", &container]).trim() == "exited"
    });
    assert_eq!(state(&sandbox, &sleepy), "exited", "{who}");
    let status: Value = serde_json::from_str(&sandbox.jenv(&sleepy, &["status", "--json"]).success().stdout()).unwrap();
    assert_eq!(status["stopped"], "idle", "{who}: {status}");
    let again = NotebookUrl::parse(&sandbox.jenv(&sleepy, &["up"]).success().stdout());
    assert_eq!(again, sleepy_url, "{who}: the same URL");
    sandbox.jenv(&sleepy, &["exec", "--", "python3", "-c", "import sleepy_probe"]).success();

    // With --snapshot, the one with an install is kept in a snapshot first, then stopped (last:
    // it would stop the sleepy one too).
    let done = outcome(&["down", "--idle", "2s", "--snapshot", "--json"]);
    assert_eq!(action(&done, &installed), "stopped", "{who}: {done:?}");
    let history: Value =
        serde_json::from_str(&sandbox.jenv(&installed, &["history", "--json"]).success().stdout()).unwrap();
    assert_eq!(history[0]["message"], "taken by jenv down", "{who}: {history}");
    assert_eq!(history[0]["current"], true, "{who}: the next `up` starts from it: {history}");
    assert_eq!(state(&sandbox, &installed), "absent", "{who}");
}

/// `jenv top --json`, run in `dir`.
fn top(sandbox: &Sandbox, dir: &Path) -> Vec<Value> {
    serde_json::from_str(&sandbox.jenv(dir, &["top", "--json"]).success().stdout()).unwrap()
}

#[track_caller]
fn entry(sample: &[Value], name: &str) -> Value {
    sample.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} not in {sample:?}")).clone()
}

fn name_of(sandbox: &Sandbox, dir: &Path) -> String {
    status(sandbox, dir)["name"].as_str().unwrap().to_string()
}

fn state(sandbox: &Sandbox, dir: &Path) -> String {
    status(sandbox, dir)["state"].as_str().unwrap().to_string()
}

fn status(sandbox: &Sandbox, dir: &Path) -> Value {
    serde_json::from_str(&sandbox.jenv(dir, &["status", "--json"]).success().stdout()).unwrap()
}
