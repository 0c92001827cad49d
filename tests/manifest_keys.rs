//! The manifest keys people put on `docker run`, each against the real engine: inspected on the
//! running container or observed from code running in it.

mod common;

use std::path::Path;
use std::process::Command;

use common::kernel::run_cell;
use common::watcher::Watch;
use common::{NotebookUrl, STACKS_IMAGE, Sandbox, docker, http, make_wheel, test_image};
use serde_json::Value;

fn append(sandbox: &Sandbox, project: &Path, text: &str) {
    sandbox.edit_manifest(project, |manifest| manifest + text);
}

/// Inserts top-level keys before the manifest's first table.
fn set_top(sandbox: &Sandbox, project: &Path, text: &str) {
    sandbox.edit_manifest(project, |manifest| {
        let at = manifest.find("\n[").unwrap() + 1;
        format!("{}{text}\n{}", &manifest[..at], &manifest[at..])
    });
}

fn inspect(sandbox: &Sandbox, format: &str) -> String {
    docker(&["inspect", "-f", format, &sandbox.containers()[0]]).trim().to_string()
}

fn status(sandbox: &Sandbox, project: &Path) -> Value {
    serde_json::from_str(&sandbox.jenv(project, &["status", "--json"]).success().stdout()).unwrap()
}

#[test]
fn env_values_reach_the_notebook_exec_shell_and_installs_but_no_snapshot_or_status() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("env");
    std::fs::write(project.join(".env"), "# secrets\nAPI_KEY='s3cret-from-file'\nMODE=from-file\n").unwrap();
    set_top(&sandbox, &project, "env_file = \".env\"");
    append(&sandbox, &project, "\n[env]\nMODE = \"dev\"\nPROBE_WHEEL = \"dist/jenv_env_probe-1.0-py3-none-any.whl\"\n");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());

    let cell = run_cell(&url, "import os; print(os.environ['API_KEY'], os.environ['MODE'])");
    assert_eq!(cell.stdout.trim(), "s3cret-from-file dev", "[env] wins over the file: {cell:?}");
    let exec = sandbox.jenv(&project, &["exec", "--", "sh", "-c", "echo $API_KEY"]).success();
    assert_eq!(exec.stdout().trim(), "s3cret-from-file");
    let mut shell = sandbox.command(&project, &["shell"]);
    let shell = shell.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = shell.stdin.as_ref().unwrap();
        stdin.write_all(b"echo \"shell sees $MODE\"\nexit\n").unwrap();
    }
    let shell = common::Run(shell.wait_with_output().unwrap()).success();
    assert_eq!(shell.stdout().trim(), "shell sees dev");

    // pip expands ${VAR} in requirement files: the install succeeds only if the watcher's install sees [env].
    make_wheel(&sandbox, &project, "jenv_env_probe", "1.0");
    {
        let watch = Watch::start(&sandbox, &project);
        std::fs::write(project.join("requirements.txt"), "${PROBE_WHEEL}\n").unwrap();
        watch.expect("installed", std::time::Duration::from_secs(120));
        watch.expect("snapshot", std::time::Duration::from_secs(120));
    }

    let status_json = sandbox.jenv(&project, &["status", "--json"]).success().stdout();
    let status_text = sandbox.jenv(&project, &["status"]).success().stdout();
    let history: Value =
        serde_json::from_str(&sandbox.jenv(&project, &["history", "--json"]).success().stdout()).unwrap();
    let image = history[0]["image"].as_str().unwrap().to_string();
    let image_config = docker(&["image", "inspect", "-f", "{{json .Config}}", &image]);
    let container_env = inspect(&sandbox, "{{json .Config.Env}}");
    for secret in ["s3cret-from-file", &url.token, "JUPYTER_TOKEN"] {
        assert!(!container_env.contains(secret), "the container's config holds {secret}: {container_env}");
        assert!(!image_config.contains(secret), "the snapshot image holds {secret}: {image_config}");
    }
    for secret in ["s3cret-from-file", "API_KEY", "PROBE_WHEEL"] {
        assert!(!status_json.contains(secret), "status --json shows {secret}: {status_json}");
        assert!(!status_text.contains(secret), "status shows {secret}: {status_text}");
        assert!(!image_config.contains(secret), "the snapshot image holds {secret}: {image_config}");
    }
    // Once the container is gone, jenv keeps no copy of the values either.
    sandbox.jenv(&project, &["down"]).success();
    let runtime: Vec<_> = std::fs::read_dir(sandbox.home.join("runtime")).unwrap().flatten().collect();
    assert!(runtime.is_empty(), "runtime files left after down: {runtime:?}");
}

#[test]
fn a_missing_env_file_or_mount_source_is_refused_before_anything_starts() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("refused");
    set_top(&sandbox, &project, "env_file = \"secrets.env\"");
    let refused = sandbox.jenv(&project, &["up"]).failure();
    assert!(refused.stderr().contains(&format!("cannot read the env file {}/secrets.env", project.display())));
    assert!(sandbox.containers().is_empty());

    std::fs::write(project.join("secrets.env"), "GOOD=1\nthis line is wrong\n").unwrap();
    let refused = sandbox.jenv(&project, &["up"]).failure();
    assert!(refused.stderr().contains("secrets.env:2: expected NAME=value"), "{}", refused.stderr());

    std::fs::write(project.join("secrets.env"), "GOOD=1\n").unwrap();
    append(&sandbox, &project, "\n[[mounts]]\nsource = \"no-such-folder\"\ntarget = \"/data\"\n");
    let refused = sandbox.jenv(&project, &["up"]).failure();
    assert!(refused.stderr().contains("the mount source `no-such-folder`"), "{}", refused.stderr());
    assert!(sandbox.containers().is_empty(), "nothing started");
}

#[test]
fn extra_mounts_are_read_only_unless_asked_and_resources_reach_the_engine() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("mounts");
    let data = sandbox.root().join("datasets");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("table.csv"), "a,b\n1,2\n").unwrap();
    std::fs::create_dir_all(project.join("out")).unwrap();
    if let Some(uid) = sandbox.uid {
        std::os::unix::fs::chown(project.join("out"), Some(uid), Some(uid)).unwrap();
    }
    append(
        &sandbox,
        &project,
        &format!(
            "\n[[mounts]]\nsource = \"{}\"\ntarget = \"/data\"\n\n[[mounts]]\nsource = \"out\"\ntarget = \"/out\"\nread_only = false\n\n[resources]\nmemory = \"1g\"\ncpus = 1.5\nshm_size = \"256m\"\n",
            data.display()
        ),
    );
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    let code = r#"
import os
print(open('/data/table.csv').read().splitlines()[1])
try:
    open('/data/new.txt', 'w')
    print('data writable')
except OSError as e:
    print('data read-only', e.errno)
open('/out/result.txt', 'w').write('ok')
st = os.statvfs('/dev/shm')
print('shm', st.f_blocks * st.f_frsize)
"#;
    let cell = run_cell(&url, code);
    assert_eq!(cell.error, None);
    let lines: Vec<&str> = cell.stdout.lines().collect();
    assert_eq!(lines, ["1,2", "data read-only 30", &format!("shm {}", 256 << 20)], "{cell:?}");
    assert_eq!(std::fs::read_to_string(project.join("out/result.txt")).unwrap(), "ok");
    assert_eq!(
        inspect(&sandbox, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}"),
        format!("{} 1500000000", 1u64 << 30)
    );
}

#[test]
fn a_gpu_request_reaches_the_engine_and_a_missing_gpu_runtime_is_named() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("gpus");
    append(&sandbox, &project, "\n[resources]\ngpus = \"all\"\n");
    let refused = sandbox.jenv(&project, &["up"]).failure();
    let text = refused.stderr();
    // The engine's own words prove the device request reached its container config.
    assert!(text.contains("could not select device driver") && text.contains("[[gpu]]"), "{text}");
    assert!(text.contains("the engine has no GPU runtime"), "{text}");
    assert!(text.contains("NVIDIA Container Toolkit") && text.contains("remove `gpus`"), "{text}");
    assert!(sandbox.containers().is_empty(), "no container left behind");
}

#[test]
fn the_url_opens_lab_on_docker_stacks_and_the_ui_key_overrides_it() {
    let sandbox = Sandbox::for_image(STACKS_IMAGE, None);
    let project = sandbox.project("lab");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(url.ui, "lab");
    assert_eq!(http(url.port, "GET", &format!("/lab?token={}", url.token), None).0, 200);
    sandbox.jenv(&project, &["down"]).success();

    set_top(&sandbox, &project, "ui = \"notebook\"");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(url.ui, "tree");
    assert_eq!(http(url.port, "GET", &format!("/tree?token={}", url.token), None).0, 200);

    let plain = Sandbox::new();
    let classic = plain.project("classic");
    assert_eq!(NotebookUrl::parse(&plain.jenv(&classic, &["up"]).success().stdout()).ui, "tree");
}

#[test]
fn a_port_range_publishes_each_port_on_its_own_loopback_host_port() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("spark");
    append(&sandbox, &project, "spark-ui = \"4040-4042\"\n");
    let manifest = std::fs::read_to_string(project.join(".jupyter-env")).unwrap();
    assert!(manifest.trim_end().ends_with("spark-ui = \"4040-4042\""), "appended under [ports]: {manifest}");
    sandbox.jenv(&project, &["up"]).success();
    let ports = status(&sandbox, &project)["ports"].clone();
    let hosts: Vec<u64> = (4040..=4042)
        .map(|p| {
            assert_eq!(ports[format!("spark-ui/{p}")]["container"], p, "{ports}");
            ports[format!("spark-ui/{p}")]["host"].as_u64().unwrap()
        })
        .collect();
    assert!(hosts[0] != hosts[1] && hosts[1] != hosts[2] && hosts[0] != hosts[2], "{hosts:?}");
    let bindings: Value = serde_json::from_str(&inspect(&sandbox, "{{json .HostConfig.PortBindings}}")).unwrap();
    for (port, host) in (4040..=4042).zip(&hosts) {
        let binding = &bindings[format!("{port}/tcp")][0];
        assert_eq!(
            (binding["HostIp"].as_str(), binding["HostPort"].as_str()),
            (Some("127.0.0.1"), Some(&*host.to_string()))
        );
    }
    // Something serving on container port 4041 answers on its host port.
    let server = "nohup python3 -m http.server 4041 >/dev/null 2>&1 &";
    sandbox.jenv(&project, &["exec", "--", "sh", "-c", server]).success();
    common::eventually("the 4041 server to answer", std::time::Duration::from_secs(20), || answers(hosts[1] as u16));
    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("spark-ui/4042 4042 -> 127.0.0.1:"), "{human}");
}

/// True when an HTTP server answers on 127.0.0.1:`port` (the engine's proxy accepts, then resets
/// connections while nothing listens in the container).
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let mut reply = String::new();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok()
        && stream.read_to_string(&mut reply).is_ok()
        && reply.starts_with("HTTP/1.0 200")
}

#[test]
fn a_changed_manifest_is_reported_and_up_recreates_only_through_the_guard() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("drift");
    append(&sandbox, &project, "\n[env]\nMODE = \"one\"\n");
    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    let wheel = make_wheel(&sandbox, &project, "jenv_probe", "1.0");
    sandbox.jenv(&project, &["exec", "--", "python3", "-m", "pip", "install", "--no-index", "-q", &wheel]).success();

    sandbox.edit_manifest(&project, |manifest| {
        manifest.replace("MODE = \"one\"", "MODE = \"two\"") + "\n[resources]\nmemory = \"1g\"\n"
    });
    assert_eq!(status(&sandbox, &project)["drift"], serde_json::json!(["env MODE", "resources.memory"]));
    let human = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(human.contains("no longer matches .jupyter-env: env MODE, resources.memory"), "{human}");
    assert!(!human.contains("two") && !human.contains("one"), "values are not shown: {human}");

    let refused = sandbox.jenv(&project, &["up"]).failure();
    assert!(refused.stderr().contains("+ jenv-probe 1.0 (pip)"), "the down guard: {}", refused.stderr());
    assert_eq!(sandbox.jenv(&project, &["exec", "--", "printenv", "MODE"]).success().stdout().trim(), "one");

    sandbox.jenv(&project, &["snapshot"]).success();
    let again = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(again, url, "same URL after recreating");
    assert_eq!(sandbox.jenv(&project, &["exec", "--", "printenv", "MODE"]).success().stdout().trim(), "two");
    assert_eq!(inspect(&sandbox, "{{.HostConfig.Memory}}"), (1u64 << 30).to_string());
    assert!(status(&sandbox, &project).get("drift").is_none());
    let code = "import jenv_probe; print(jenv_probe.VERSION)";
    assert_eq!(run_cell(&again, code).stdout.trim(), "1.0", "the snapshot carried the install over");
    let label: Value = serde_json::from_str(&inspect(&sandbox, "{{index .Config.Labels \"jenv.settings\"}}")).unwrap();
    assert_eq!(label["env MODE"], "set", "nothing derived from a value is in the label: {label}");

    // A stopped notebook that no longer matches is started so the guard can look inside it.
    docker(&["stop", "-t", "1", &sandbox.containers()[0]]);
    sandbox.edit_manifest(&project, |manifest| manifest.replace("memory = \"1g\"", "memory = \"2g\""));
    let recreated = sandbox.jenv(&project, &["up"]).success();
    assert!(recreated.stderr().contains("starting the stopped notebook"), "{}", recreated.stderr());
    assert_eq!(inspect(&sandbox, "{{.HostConfig.Memory}}"), (2u64 << 30).to_string());
}

/// The seed tutorial's own alias line, converted and started. Its image is the docker-stacks
/// fixture under the seed's name, tagged for this test (no registry is reachable here).
#[test]
fn the_seeds_alias_line_becomes_a_loopback_notebook_with_a_token_and_both_ports() {
    let seed = "docker run -it --rm -p 8888:8888 -p 4040:4040 -v /home/username/myworkfolder:/home/jovyan/work jupyter/all-spark-notebook";
    let mut cleanup = common::Cleanup::default();
    cleanup.docker(&["rmi", "jupyter/all-spark-notebook:latest"]);
    let tagged =
        Command::new("docker").args(["tag", STACKS_IMAGE, "jupyter/all-spark-notebook:latest"]).status().unwrap();
    assert!(tagged.success());
    let sandbox = Sandbox::for_image(&test_image(), None);
    let project = sandbox.root().join("seed");
    std::fs::create_dir_all(&project).unwrap();
    let init = sandbox.jenv(&project, &["init", "--from-docker-run", seed]).success();
    assert!(init.stderr().contains("127.0.0.1 only"), "{}", init.stderr());
    let manifest = std::fs::read_to_string(project.join(".jupyter-env")).unwrap();
    assert!(manifest.contains("image = \"jupyter/all-spark-notebook\""), "{manifest}");
    assert!(manifest.contains("spark-ui = 4040"), "{manifest}");

    let url = NotebookUrl::parse(&sandbox.jenv(&project, &["up"]).success().stdout());
    assert_eq!(url.token.len(), 48);
    assert_eq!(http(url.port, "GET", &format!("/api/contents?token={}", url.token), None).0, 200);
    assert_eq!(http(url.port, "GET", "/api/contents", None).0, 403, "a token is required");
    let bindings: Value = serde_json::from_str(&inspect(&sandbox, "{{json .HostConfig.PortBindings}}")).unwrap();
    for port in ["8888/tcp", "4040/tcp"] {
        assert_eq!(bindings[port][0]["HostIp"], "127.0.0.1", "{port} published on loopback only: {bindings}");
    }
    sandbox.jenv(&project, &["down"]).success();
}
