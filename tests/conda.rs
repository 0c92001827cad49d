//! conda's package records on the docker-stacks layout. There is no conda offline, so a record
//! is written by hand where conda writes it (`/opt/conda/conda-meta/NAME-VERSION-BUILD.json`):
//! jenv's diff, down guard, snapshot and rebuild see exactly that file.

mod common;

use std::path::Path;

use common::{STACKS_IMAGE, Sandbox, make_wheel};
use serde_json::Value;

const RECORD: &str = "/opt/conda/conda-meta/tzdata-2024a-h0c530f3_0.json";

fn exec(sandbox: &Sandbox, project: &Path, script: &str) -> String {
    sandbox.jenv(project, &["exec", "--", "sh", "-c", script]).success().stdout()
}

#[test]
fn conda_records_are_diffed_guarded_snapshotted_and_refused_by_rebuild_without_conda() {
    let sandbox = Sandbox::for_image(STACKS_IMAGE, None);
    let project = sandbox.project("conda");
    sandbox.jenv(&project, &["up"]).success();

    exec(&sandbox, &project, &format!("mkdir -p /opt/conda/conda-meta && echo '{{}}' > {RECORD}"));
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "+ tzdata 2024a (conda)\n");
    let status: Value =
        serde_json::from_str(&sandbox.jenv(&project, &["status", "--json"]).success().stdout()).unwrap();
    assert_eq!(status["changes"], 1);
    let refused = sandbox.jenv(&project, &["down"]).failure();
    assert!(refused.stderr().contains("+ tzdata 2024a (conda)"), "{}", refused.stderr());

    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    sandbox.jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "-q", &wheel]).success();
    sandbox.jenv(&project, &["snapshot", "-m", "with conda"]).success();
    let lock = std::fs::read_to_string(project.join(".jupyter-env.lock")).unwrap();
    assert!(lock.contains("tzdata = \"2024a\""), "{lock}");

    sandbox.jenv(&project, &["down"]).success();
    sandbox.jenv(&project, &["up"]).success();
    assert_eq!(exec(&sandbox, &project, &format!("ls {RECORD}")).trim(), RECORD, "the snapshot kept it");
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "");

    // The image has no conda: rebuild says so before installing anything.
    let before = sandbox.jenv(&project, &["history", "--json"]).success().stdout();
    let rebuild = sandbox.jenv(&project, &["rebuild"]).failure();
    let text = rebuild.stderr();
    assert!(text.contains("lists conda packages (tzdata)"), "{text}");
    assert!(text.contains("has neither conda nor mamba; nothing was installed"), "{text}");
    assert!(!text.contains("$ python3 -m pip install"), "pip ran before the refusal: {text}");
    assert_eq!(sandbox.jenv(&project, &["history", "--json"]).success().stdout(), before, "no image was made");

    exec(&sandbox, &project, &format!("rm {RECORD}"));
    assert_eq!(sandbox.jenv(&project, &["diff"]).success().stdout(), "- tzdata 2024a (conda)\n");
    sandbox.jenv(&project, &["snapshot", "-m", "without conda"]).success();
    let lock = std::fs::read_to_string(project.join(".jupyter-env.lock")).unwrap();
    assert!(!lock.contains("tzdata"), "{lock}");
    assert!(lock.contains("jenv-probe"), "{lock}");
}
