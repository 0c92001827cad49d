//! `jenv export` against the real engine: a snapshot of installs made by hand becomes files
//! (Dockerfile, requirements, devcontainer, `[build]`), `--check` proves they build the same
//! packages, and a copy of the folder with no snapshot image and a fresh JENV_HOME starts from
//! them with `jenv up` alone. The build gets its packages from an index on this host's loopback.

mod common;

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Run, STACKS_IMAGE, Sandbox, eventually, free_port, make_wheel};

/// A package index on 127.0.0.1 (`python3 -m http.server` over `simple/NAME/` folders of
/// wheels), stopped when dropped.
struct Index {
    server: Child,
    url: String,
}

impl Index {
    fn serve(root: &Path) -> Index {
        let port = free_port();
        let server = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the test's package index");
        let index = Index { server, url: format!("http://127.0.0.1:{port}/simple/") };
        eventually("the package index answers", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        index
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Copies the project's wheel (relative path) into the index as `simple/NAME/FILE`.
fn publish(index_root: &Path, project: &Path, name: &str, wheel: &str) {
    let folder = index_root.join("simple").join(name);
    fs::create_dir_all(&folder).unwrap();
    let file = Path::new(wheel).file_name().unwrap();
    fs::copy(project.join(wheel), folder.join(file)).unwrap();
}

fn with_index(sandbox: &Sandbox, dir: &Path, args: &[&str], index: &Index) -> Run {
    Run::from_command(sandbox.command(dir, args).env("PIP_INDEX_URL", &index.url))
}

fn read(path: PathBuf) -> String {
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_snapshot_exports_to_files_that_rebuild_it_without_jenv_images_or_state() {
    let sandbox = Sandbox::for_image(STACKS_IMAGE, None);
    let project = sandbox.project("exported");
    sandbox.jenv(&project, &["up"]).success();
    let probe = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    let extra = make_wheel(&sandbox, &project, "jenv_extra", "2.0");
    let index_root = sandbox.root().join("index");
    publish(&index_root, &project, "jenv-probe", &probe);
    publish(&index_root, &project, "jenv-extra", &extra);
    let index = Index::serve(&index_root);

    // By hand: one package by name from a folder of wheels, one from its file.
    let pip = ["exec", "--", "python3", "-m", "pip", "install", "--no-index", "--quiet"];
    sandbox.jenv(&project, &[&pip[..], &["--find-links", "/home/jovyan/work/dist", "jenv_probe"]].concat()).success();
    sandbox.jenv(&project, &[&pip[..], &[extra.as_str()]].concat()).success();

    let refused = sandbox.jenv(&project, &["export"]).failure();
    assert!(refused.stderr().contains("2 package changes that no snapshot holds"), "{}", refused.stderr());
    assert!(refused.stderr().contains("hint: keep them with `jenv snapshot`"), "{}", refused.stderr());
    assert!(!project.join("binder").exists(), "nothing is exported from installs no snapshot holds");
    sandbox.jenv(&project, &["snapshot", "-m", "by hand"]).success();

    // A devcontainer.json of the user's own is never overwritten without --force.
    fs::create_dir(project.join(".devcontainer")).unwrap();
    fs::write(project.join(".devcontainer/devcontainer.json"), "{ \"image\": \"mine\" }\n").unwrap();
    let refused = sandbox.jenv(&project, &["export"]).failure();
    assert!(refused.stderr().contains("did not write .devcontainer/devcontainer.json"), "{}", refused.stderr());
    assert!(refused.stderr().contains("jenv export --force"), "{}", refused.stderr());
    assert!(!project.join("binder").exists(), "a refusal writes nothing");

    let exported = sandbox.jenv(&project, &["export", "--force", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&exported.stdout()).unwrap();
    let files: Vec<&str> = json["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    let expected: Vec<String> =
        ["binder/Dockerfile", "binder/requirements.txt", ".devcontainer/devcontainer.json", ".jupyter-env"]
            .iter()
            .map(|f| project.join(f).display().to_string())
            .collect();
    assert_eq!(files, expected);
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("no digest for jenv-fixture/base-notebook:bookworm"), "{warnings}");
    assert!(warnings.contains("jenv-extra was installed from file:///home/jovyan/work/dist/"), "{warnings}");
    assert_eq!(json["from"], STACKS_IMAGE);

    let dockerfile = read(project.join("binder/Dockerfile"));
    assert!(dockerfile.starts_with("# Written by jenv export from snapshot "), "{dockerfile}");
    assert!(dockerfile.contains(&format!("\nFROM {STACKS_IMAGE}\n")), "{dockerfile}");
    assert!(dockerfile.contains("\nUSER ${NB_UID}\n"), "{dockerfile}");
    for never in ["CMD", "ENTRYPOINT", "ENV"] {
        assert!(!dockerfile.lines().any(|l| l.starts_with(never)), "{never}: {dockerfile}");
    }
    let requirements = read(project.join("binder/requirements.txt"));
    assert_eq!(
        requirements.lines().skip(1).collect::<Vec<_>>(),
        [
            "jenv-extra==2.0  # installed from file:///home/jovyan/work/dist/jenv_extra-2.0-py3-none-any.whl",
            "jenv-probe==1.0"
        ]
    );
    let devcontainer = read(project.join(".devcontainer/devcontainer.json"));
    let (marker, body) = devcontainer.split_once('\n').unwrap();
    assert!(marker.starts_with("// Written by jenv export"), "{marker}");
    let devcontainer: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(devcontainer["build"]["dockerfile"], "../binder/Dockerfile");
    assert_eq!(devcontainer["build"]["context"], "../binder");
    assert_eq!(devcontainer["overrideCommand"], false);
    assert_eq!(devcontainer["forwardPorts"], serde_json::json!([8888]));
    let manifest = read(project.join(".jupyter-env"));
    assert!(manifest.ends_with("[build]\ndockerfile = \"binder/Dockerfile\"\ncontext = \"binder\"\n"), "{manifest}");

    // --check builds the files: one that lost a package differs (exit 1); the export's own match.
    let shortened = requirements.lines().filter(|l| !l.starts_with("jenv-extra")).collect::<Vec<_>>().join("\n");
    fs::write(project.join("binder/requirements.txt"), shortened + "\n").unwrap();
    let differs = with_index(&sandbox, &project, &["export", "--check"], &index);
    assert_eq!(differs.code(), Some(1), "{}\n{}", differs.stdout(), differs.stderr());
    assert_eq!(differs.stdout(), "jenv-extra (pip): 2.0 in the snapshot, missing from the build\n");
    sandbox.jenv(&project, &["export"]).success();
    let checked = with_index(&sandbox, &project, &["export", "--check"], &index).success();
    assert!(checked.stderr().contains("the build holds the packages snapshot"), "{}", checked.stderr());
    assert!(checked.stderr().contains("Step "), "the build's steps are shown: {}", checked.stderr());
    for file in &files {
        assert!(!read(PathBuf::from(file)).contains(&index.url), "the index is never written into {file}");
    }

    // A copy of the folder, with a fresh JENV_HOME and no snapshot image: `jenv up` builds it.
    sandbox.jenv(&project, &["down"]).success();
    let filter = format!("label=jenv.home={}", sandbox.home.display());
    let images = sandbox.docker(&["images", "-q", "--filter", &filter]);
    let images: Vec<&str> = images.split_whitespace().collect();
    assert!(!images.is_empty());
    sandbox.docker(&[&["rmi", "-f"][..], &images].concat());
    let repository =
        format!("jenv/{}", manifest.lines().find_map(|l| l.strip_prefix("name = ")).unwrap().trim_matches('"'));
    let clone_sandbox = Sandbox::for_image(STACKS_IMAGE, None);
    let clone = clone_sandbox.root().join("clone");
    let copied = Command::new("cp").arg("-a").arg(&project).arg(&clone).status().unwrap();
    assert!(copied.success());
    fs::remove_dir_all(clone.join("dist")).unwrap();
    let gone =
        clone_sandbox.docker_command().args(["image", "inspect", &format!("{repository}:latest")]).output().unwrap();
    assert!(!gone.status.success(), "the snapshot image is gone");
    clone_sandbox.jenv(&clone, &["trust"]).success();

    let up = with_index(&clone_sandbox, &clone, &["up"], &index).success();
    assert!(up.stderr().contains("building ") && up.stderr().contains("Step "), "{}", up.stderr());
    let code = "import jenv_probe, jenv_extra; print(jenv_probe.VERSION, jenv_extra.VERSION)";
    let imported = clone_sandbox.jenv(&clone, &["exec", "--", "python3", "-c", code]).success();
    assert_eq!(imported.stdout().trim(), "1.0 2.0");
    let env = clone_sandbox.docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &format!("{repository}:latest"),
    ]);
    assert!(!env.contains("PIP_INDEX_URL") && !env.contains(&index.url), "{env}");
    let history = clone_sandbox.docker(&["history", "--no-trunc", &format!("{repository}:latest")]);
    assert!(!history.contains(&clone_sandbox.home.display().to_string()), "no state folder in what a push sends");

    // `jenv rebuild` takes the same path.
    let rebuilt = with_index(&clone_sandbox, &clone, &["rebuild"], &index).success();
    assert!(rebuilt.stdout().trim().ends_with("-rebuilt"), "{}", rebuilt.stdout());
}
