//! Remote engines, honestly on one machine: this machine's engine reached through a real sshd on
//! loopback (`DOCKER_HOST=ssh://root@127.0.0.1:PORT`), the notebook served through jenv's own ssh
//! forward on a different local port; and a folder the engine's host does not have (or has with
//! another project in it), made real with a private mount namespace for jenv.

mod common;

use std::path::Path;
use std::process::Command;

use common::sshd::Sshd;
use common::{NotebookUrl, Sandbox, http, test_image};
use serde_json::Value;

fn ssh_sandbox(sshd: &Sshd) -> Sandbox {
    let host = sshd.docker_host();
    let path = sshd.path();
    Sandbox::with_env(
        &test_image(),
        None,
        &[("DOCKER_HOST", Some(&host)), ("DOCKER_CONTEXT", None), ("PATH", Some(&path))],
    )
}

#[test]
fn an_ssh_engine_serves_the_notebook_through_jenvs_forward_and_down_closes_it() {
    let Some(sshd) = Sshd::start() else { return };
    let sandbox = ssh_sandbox(&sshd);
    let project = sandbox.project("remote");
    let up = sandbox.jenv(&project, &["up"]).success();
    let url = NotebookUrl::parse(&up.stdout());
    let published = sandbox.docker(&["port", &sandbox.containers()[0], "8888/tcp"]);
    let remote: u16 = published.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(url.port, remote, "the URL uses jenv's forward, not the remote port");
    assert_eq!(http(url.port, "GET", &format!("/api/contents?token={}", url.token), None).0, 200);

    let status: Value =
        serde_json::from_str(&sandbox.jenv(&project, &["status", "--json"]).success().stdout()).unwrap();
    assert!(status["engine"].as_str().unwrap().contains(&sshd.docker_host()), "{status}");
    assert_eq!(NotebookUrl::parse(&sandbox.jenv(&project, &["url"]).success().stdout()), url);
    let all = sandbox.jenv(&project, &["status", "--all"]).success().stdout();
    assert!(all.contains(&sshd.docker_host()), "status --all names the engine: {all}");
    let doctor: Value = serde_json::from_str(&sandbox.jenv(&project, &["doctor", "--json"]).stdout()).unwrap();
    let engine = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "engine").unwrap().clone();
    assert_eq!(engine["ok"], true, "doctor reaches the ssh engine: {doctor}");
    assert!(engine["detail"].as_str().unwrap().contains(&sshd.docker_host()), "{engine}");

    sandbox.jenv(&project, &["down"]).success();
    common::eventually("the forward to close", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", url.port)).is_err()
    });
}

/// Runs `jenv up` in `folder` inside a private mount namespace where `mount_at` (an existing
/// folder, `folder` or a parent of it) is a fresh tmpfs and `folder` holds `manifest`: jenv sees
/// that folder, the engine's host (this machine, outside the namespace) does not.
fn up_where_only_jenv_sees(sandbox: &Sandbox, mount_at: &Path, folder: &Path, manifest: &str) -> common::Run {
    let jenv = sandbox.command(folder, &["up"]);
    let script = format!(
        "mount -t tmpfs tmpfs {at} && mkdir -p {dir} && printf '%s' \"$MANIFEST\" > {dir}/.jupyter-env && cd {dir} && exec {jenv} up",
        at = mount_at.display(),
        dir = folder.display(),
        jenv = env!("CARGO_BIN_EXE_jenv"),
    );
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    for (key, value) in jenv.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.env("MANIFEST", manifest).env("JENV_TRUST_ALL", "1");
    common::Run(command.output().unwrap())
}

#[test]
fn a_folder_the_engines_host_lacks_or_holds_another_project_in_is_refused() {
    let Some(sshd) = Sshd::start() else { return };
    let sandbox = ssh_sandbox(&sshd);
    let template = sandbox.project("template");
    let manifest = std::fs::read_to_string(template.join(".jupyter-env")).unwrap();
    let parent = sandbox.root().join("only-here");
    std::fs::create_dir_all(&parent).unwrap();

    // The engine's host has no such folder.
    let stderr = up_where_only_jenv_sees(&sandbox, &parent, &parent.join("project"), &manifest).failure().stderr();
    assert!(stderr.contains("project does not exist on the engine's host"), "{stderr}");
    assert!(stderr.contains("check the project out at the same path"), "{stderr}");
    assert!(sandbox.containers().is_empty(), "nothing left behind");

    // The engine's host has the path, but empty: never mounted silently.
    let stderr = up_where_only_jenv_sees(&sandbox, &parent, &parent, &manifest).failure().stderr();
    assert!(stderr.contains("holds no .jupyter-env: it is not this project"), "{stderr}");
    assert!(sandbox.containers().is_empty());

    // The engine's host has the path, with another project in it.
    let other = sandbox.root().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(".jupyter-env"), manifest.replace("template", "someone-else")).unwrap();
    let stderr = up_where_only_jenv_sees(&sandbox, &other, &other, &manifest).failure().stderr();
    assert!(stderr.contains("holds a different .jupyter-env") && stderr.contains("nothing was started"), "{stderr}");
    assert!(sandbox.containers().is_empty());
}

/// A TLS `tcp://` engine: this machine's engine behind a TLS listener (Python's ssl module) that
/// demands a client certificate from the test's own CA. jenv finds the client files in DOCKER_CERT_PATH, as
/// `docker --tlsverify` does, and connects; without them it says what is missing.
#[test]
fn a_tls_engine_is_reached_with_the_docker_cli_client_files() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: needs openssl (scripts/install-test-deps.sh installs it)");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=jenv-test-ca",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ]);
    std::fs::write(dir.join("server.ext"), "subjectAltName = IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage = clientAuth\n").unwrap();
    for (name, cn) in [("server", "127.0.0.1"), ("cert", "jenv-test-client")] {
        let key = if name == "server" { "server-key.pem".to_string() } else { "key.pem".to_string() };
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &format!("{name}.csr"),
        ]);
        let ext = if name == "server" { "server.ext" } else { "client.ext" };
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            ext,
            "-out",
            &format!("{name}.pem"),
        ]);
    }
    let port = common::free_port();
    let proxy = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls_proxy.py");
    let file = |name: &str| dir.join(name).display().to_string();
    let mut proxy_process = Command::new("python3")
        .args([
            proxy,
            &port.to_string(),
            &file("server.pem"),
            &file("server-key.pem"),
            &file("ca.pem"),
            "/var/run/docker.sock",
        ])
        .spawn()
        .unwrap();
    let _proxy = Kill(&mut proxy_process);
    common::eventually("the TLS proxy to listen", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let host = format!("tcp://127.0.0.1:{port}");
    let cert_path = dir.to_str().unwrap();
    let env =
        [("DOCKER_HOST", Some(host.as_str())), ("DOCKER_TLS_VERIFY", Some("1")), ("DOCKER_CERT_PATH", Some(cert_path))];
    let sandbox = Sandbox::with_env(&test_image(), None, &env);
    let status = sandbox.jenv(&sandbox.root(), &["status", "--all", "--json"]).success();
    assert!(status.stderr().is_empty(), "{}", status.stderr());
    let doctor = sandbox.jenv(&sandbox.root(), &["doctor", "--json"]).stdout();
    assert!(doctor.contains(&host), "{doctor}");

    std::fs::remove_file(dir.join("key.pem")).unwrap();
    let refused = sandbox.jenv(&sandbox.root(), &["status", "--all"]).failure().stderr();
    assert!(refused.contains(&format!("{host} uses TLS")) && refused.contains("has no key.pem"), "{refused}");
}

/// Kills a helper process when the test ends, also when it fails.
struct Kill<'a>(&'a mut std::process::Child);

impl Drop for Kill<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
