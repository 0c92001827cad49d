//! Many folders at once: the port lease keeps concurrent `jenv up` runs from clashing.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::Stdio;

use common::{NotebookUrl, Sandbox, http};

const FOLDERS: usize = 6;

#[test]
fn six_folders_up_in_parallel_get_distinct_ports_while_one_is_held() {
    let sandbox = Sandbox::new();
    // Another program on the first port of the range; if something already holds it, it is held all the same.
    let held = sandbox.ports.0;
    let _holder = TcpListener::bind(("127.0.0.1", held));
    assert!(TcpListener::bind(("127.0.0.1", held)).is_err(), "{held} must be held for this test");

    let folders: Vec<_> = (0..FOLDERS).map(|i| sandbox.project(&format!("p{i}"))).collect();
    let children: Vec<_> = folders
        .iter()
        .map(|folder| sandbox.command(folder, &["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let urls: Vec<NotebookUrl> = children
        .into_iter()
        .map(|child| {
            let out = common::Run(child.wait_with_output().unwrap()).success();
            NotebookUrl::parse(&out.stdout())
        })
        .collect();

    let ports: BTreeSet<u16> = urls.iter().map(|u| u.port).collect();
    assert_eq!(ports.len(), FOLDERS, "ports clash: {urls:?}");
    assert!(!ports.contains(&held), "{held} is held by another program: {urls:?}");
    for url in &urls {
        let (status, _) = http(url.port, "GET", &format!("/api/contents?token={}", url.token), None);
        assert_eq!(status, 200, "{url:?}");
    }

    let listed = sandbox.jenv(&sandbox.root(), &["status", "--all", "--json"]).success().stdout();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    for (folder, url) in folders.iter().zip(&urls) {
        let entry = listed
            .iter()
            .find(|e| e["folder"] == folder.display().to_string())
            .unwrap_or_else(|| panic!("{} missing from status --all", folder.display()));
        assert_eq!(entry["state"], "running");
        assert_eq!(entry["ports"]["jupyter"]["host"], url.port);
        assert_eq!(entry["url"], format!("http://127.0.0.1:{}/{}?token={}", url.port, url.ui, url.token));
    }
    let table = sandbox.jenv(&sandbox.root(), &["status", "--all"]).success().stdout();
    for folder in &folders {
        assert!(table.contains(&folder.display().to_string()), "{table}");
    }
}
