//! `jenv doctor` against the real engine, against no engine, and `jenv prune --orphans`.

mod common;

use std::path::Path;

use common::{Run, Sandbox};
use serde_json::Value;

fn json_report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout()))
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    let checks = report["checks"].as_array().unwrap();
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no `{name}` check in {report:#}"))
}

fn names(report: &Value) -> Vec<&str> {
    report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[test]
fn a_healthy_engine_passes_every_check() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("healthy");
    sandbox.jenv(&project, &["up"]).success();

    let run = sandbox.jenv(&project, &["doctor", "--json"]).success();
    let report = json_report(&run);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(
        names(&report),
        ["socket", "engine", "version", "storage", "image", "ports", "state", "locks", "orphans"]
    );
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check:#}");
        assert!(!check["detail"].as_str().unwrap().is_empty(), "{check:#}");
        assert_eq!(check.as_object().unwrap().len(), 4, "name, ok, detail, fix: {check:#}");
    }
    assert!(check(&report, "engine")["detail"].as_str().unwrap().contains("unix:///var/run/docker.sock"));
    assert!(check(&report, "image")["detail"].as_str().unwrap().contains(&sandbox.image), "{report:#}");
    assert!(check(&report, "state")["detail"].as_str().unwrap().contains("1 leased"), "{report:#}");

    let human = sandbox.jenv(&project, &["doctor"]).success().stdout();
    assert!(human.lines().any(|l| l.starts_with("✓ engine ")), "{human}");
    assert!(human.trim_end().lines().last().unwrap().starts_with("all 9 checks passed"), "{human}");
    assert!(!human.contains('\x1b'), "no colour when stdout is not a terminal:\n{human}");
}

#[test]
fn no_engine_fails_with_a_fix_and_no_panic() {
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(sandbox.root().as_path(), &["doctor", "--json"]);
    let run = Run::from_command(command.env("DOCKER_HOST", "unix:///nonexistent.sock")).failure();
    assert_eq!(run.code(), Some(1));
    let report = json_report(&run);
    assert_eq!(report["ok"], false);
    let engine = check(&report, "engine");
    assert_eq!(engine["ok"], false);
    assert!(engine["detail"].as_str().unwrap().contains("unix:///nonexistent.sock (from DOCKER_HOST)"), "{engine:#}");
    assert!(engine["fix"].as_str().unwrap().contains("DOCKER_HOST"), "{engine:#}");
    let socket = check(&report, "socket");
    assert_eq!(socket["detail"], "no socket at /nonexistent.sock: no engine listens there");
    assert_eq!(check(&report, "ports")["ok"], true, "checks without the engine still run");

    let mut command = sandbox.command(sandbox.root().as_path(), &["doctor"]);
    let human = Run::from_command(command.env("DOCKER_HOST", "unix:///nonexistent.sock")).failure().stdout();
    assert!(human.contains("✗ engine ") && human.contains("fix: start Docker"), "{human}");
    assert!(human.trim_end().ends_with("2 of 5 checks failed"), "{human}");
}

#[test]
fn a_broken_manifest_and_a_missing_image_are_named() {
    let sandbox = Sandbox::new();
    let broken = sandbox.root().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join(".jupyter-env"), "name = \n").unwrap();
    let report = json_report(&sandbox.jenv(&broken, &["doctor", "--json"]).failure());
    let manifest = check(&report, "manifest");
    assert_eq!(manifest["ok"], false, "{manifest:#}");
    assert!(manifest["detail"].as_str().unwrap().contains(".jupyter-env"), "{manifest:#}");

    let missing = sandbox.root().join("missing");
    std::fs::create_dir_all(&missing).unwrap();
    sandbox.jenv(&missing, &["init", "--image", "jenv-test/absent:never"]).success();
    let report = json_report(&sandbox.jenv(&missing, &["doctor", "--json"]).failure());
    let image = check(&report, "image");
    assert_eq!(image["ok"], false, "{image:#}");
    assert!(image["detail"].as_str().unwrap().starts_with("jenv-test/absent:never is not here"), "{image:#}");
    assert!(image["fix"].as_str().unwrap().contains("docker load"), "{image:#}");
}

#[test]
fn containers_of_deleted_folders_are_reported_then_pruned_with_their_leases() {
    let sandbox = Sandbox::new();
    let kept = sandbox.project("kept");
    let gone = sandbox.project("gone");
    sandbox.jenv(&kept, &["up"]).success();
    sandbox.jenv(&gone, &["up"]).success();
    std::fs::remove_dir_all(&gone).unwrap();
    let elsewhere = sandbox.root();

    let report = json_report(&sandbox.jenv(&elsewhere, &["doctor", "--json"]).success());
    let orphans = check(&report, "orphans");
    assert_eq!(orphans["ok"], true, "leftovers are a warning, not a failure: {orphans:#}");
    assert!(orphans["detail"].as_str().unwrap().contains(&gone.display().to_string()), "{orphans:#}");
    assert!(!orphans["detail"].as_str().unwrap().contains(&kept.display().to_string()), "{orphans:#}");
    assert_eq!(orphans["fix"], "`jenv prune --orphans` removes them and frees their ports");

    let pruned = sandbox.jenv(&elsewhere, &["prune", "--orphans"]).success();
    let line = pruned.stdout();
    assert!(line.starts_with("removed jenv-gone-") && line.contains(&format!("its folder {} is gone", gone.display())));
    assert_eq!(sandbox.containers().len(), 1, "the other notebook stays");
    let state = std::fs::read_to_string(sandbox.home.join("state.json")).unwrap();
    assert!(!state.contains(&gone.display().to_string()), "the lease is released:\n{state}");
    assert!(state.contains(&kept.display().to_string()));
    assert!(sandbox.jenv(&kept, &["status", "--json"]).success().stdout().contains("running"));

    let again = sandbox.jenv(&elsewhere, &["prune", "--orphans"]).success();
    assert_eq!(again.stdout(), "");
    assert!(again.stderr().contains("no jenv containers whose folders are gone"));
    let report = json_report(&sandbox.jenv(&elsewhere, &["doctor", "--json"]).success());
    assert_eq!(check(&report, "orphans")["fix"], Value::Null);
    assert!(Path::new(&kept).exists());
}
