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
    // `top` on another machine's engine: its stats API and oom events, Jupyter through the forward.
    let top: Value = serde_json::from_str(&sandbox.jenv(&project, &["top", "--json"]).success().stdout()).unwrap();
    let mine = top.as_array().unwrap().iter().find(|e| e["name"] == status["name"]).unwrap().clone();
    assert!(mine["memory"]["used_bytes"].as_u64().unwrap() > 10_000_000, "{mine}");
    assert!(mine["cpu_percent"].is_number(), "{mine}");
    assert_eq!((&mine["kernels"]["busy"], &mine["oom_kills"]), (&0.into(), &0.into()), "{mine}");
    let doctor: Value = serde_json::from_str(&sandbox.jenv(&project, &["doctor", "--json"]).stdout()).unwrap();
    let engine = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "engine").unwrap().clone();
    assert_eq!(engine["ok"], true, "doctor reaches the ssh engine: {doctor}");
    assert!(engine["detail"].as_str().unwrap().contains(&sshd.docker_host()), "{engine}");

    sandbox.jenv(&project, &["down"]).success();
    common::eventually("the forward to close", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", url.port)).is_err()
    });
}

/// `DOCKER_HOST=ssh://root@127.0.0.1:PORT`, the port only in the address (the ssh config has no
/// `Port` for that host), as the docker CLI takes it: jenv's engine connection and the notebook's
/// forward both log in on that port, and no engine connection outlives a command.
#[test]
fn an_ssh_engine_with_a_port_in_its_address_is_reached_on_that_port() {
    let Some(sshd) = Sshd::start() else { return };
    let host = sshd.docker_host_with_port();
    let path = sshd.path();
    let sandbox = Sandbox::with_env(
        &test_image(),
        None,
        &[("DOCKER_HOST", Some(&host)), ("DOCKER_CONTEXT", None), ("PATH", Some(&path))],
    );
    let project = sandbox.project("ported");
    let up = sandbox.jenv(&project, &["up"]).success();
    let url = NotebookUrl::parse(&up.stdout());
    assert_eq!(http(url.port, "GET", &format!("/api/contents?token={}", url.token), None).0, 200);

    let status = sandbox.jenv(&project, &["status"]).success().stdout();
    assert!(status.contains(&format!("{host} (DOCKER_HOST)")) && status.contains("running"), "{status}");
    no_engine_connections_left(sshd.port);

    sandbox.jenv(&project, &["down"]).success();
    assert!(sandbox.containers().is_empty(), "down removed the container");
    common::eventually("the forward to close", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", url.port)).is_err()
    });
    no_engine_connections_left(sshd.port);
}

/// jenv's ssh clients of `docker system dial-stdio` on `port` end with the command that ran them
/// (killed as it exits; the docker CLI's own, from the harness, are not counted).
fn no_engine_connections_left(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = engine_connections(port);
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "ssh left running after jenv exited: {left:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Running ssh clients jenv started for `docker system dial-stdio` on `port` (a zombie has no
/// command line).
fn engine_connections(port: u16) -> Vec<String> {
    let port = port.to_string();
    let cmdlines = std::fs::read_dir("/proc").unwrap().filter_map(|entry| {
        let cmdline = std::fs::read(entry.ok()?.path().join("cmdline")).ok()?;
        Some(cmdline.split(|b| *b == 0).map(|arg| String::from_utf8_lossy(arg).into_owned()).collect::<Vec<_>>())
    });
    cmdlines
        .filter(|args| {
            args.first().is_some_and(|argv0| argv0.ends_with("ssh"))
                && args.windows(2).any(|pair| pair[0] == "-p" && pair[1] == port)
                && args.iter().any(|arg| arg == "BatchMode=yes")
                && args.iter().any(|arg| arg == "dial-stdio")
        })
        .map(|args| args.join(" "))
        .collect()
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
