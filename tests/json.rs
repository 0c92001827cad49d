//! The `--json` shapes docs/cli.md documents, for the commands no other test reads as JSON:
//! `up --json` and `diff --json`.

mod common;

use common::{NotebookUrl, Sandbox, make_wheel};
use serde_json::{Value, json};

#[test]
fn up_and_diff_print_their_documented_json() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("shapes");
    let up: Value = serde_json::from_str(&sandbox.jenv(&project, &["up", "--json"]).success().stdout()).unwrap();
    for key in ["name", "folder", "container", "state", "image", "ports", "url"] {
        assert!(up.get(key).is_some(), "up --json has `{key}`: {up}");
    }
    assert_eq!(up["state"], "running");
    assert_eq!(up["folder"], project.to_str().unwrap());
    assert_eq!(up["container"], format!("jenv-{}", up["name"].as_str().unwrap()));
    let url = NotebookUrl::parse(up["url"].as_str().unwrap());
    assert_eq!(up["ports"]["jupyter"]["host"], url.port);
    assert_eq!(up["ports"]["jupyter"]["container"], 8888);
    assert!(up.get("engine").is_none(), "documented: up --json has no engine: {up}");

    let empty: Value = serde_json::from_str(&sandbox.jenv(&project, &["diff", "--json"]).success().stdout()).unwrap();
    assert_eq!(empty, json!([]));
    let wheel = make_wheel(&sandbox, &project, "jenv_shape", "1.0");
    sandbox.jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "-q", &wheel]).success();
    let diff: Value = serde_json::from_str(&sandbox.jenv(&project, &["diff", "--json"]).success().stdout()).unwrap();
    assert_eq!(diff, json!([{ "change": "added", "manager": "pip", "name": "jenv-shape", "version": "1.0" }]));
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "+ jenv-shape 1.0 (pip)\n");
    sandbox.jenv(&project, &["down", "--discard"]).success();
}
