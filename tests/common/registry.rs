//! A real registry for the tests: Debian's `docker-registry` (Docker Distribution 2.8) serving
//! from a temp folder on a free 127.0.0.1 port, optionally behind htpasswd auth. The engine
//! trusts 127.0.0.0/8 without TLS. Stopped when dropped, also when a test fails.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `None` when `docker-registry` is not installed (the test command installs it as root).
    pub fn start(login: Option<(&str, &str)>) -> Option<Registry> {
        if Command::new("docker-registry").arg("--version").output().is_err() {
            eprintln!("SKIPPED: docker-registry is not installed (scripts/test.sh installs it as root)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = login {
            let htpasswd = dir.path().join("htpasswd");
            let made = Command::new("htpasswd").args(["-Bbc"]).arg(&htpasswd).args([user, password]).output();
            assert!(made.expect("htpasswd (apache2-utils) is installed").status.success());
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: jenv-test\n    path: {}\n", htpasswd.display()));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { child, host, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.host).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start listening on {}", registry.host);
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }
}

impl Registry {
    /// The body the registry serves at `path` (`/v2/...`), asking for manifests as the engine does.
    pub fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.host).unwrap();
        let accept = "application/vnd.docker.distribution.manifest.v2+json";
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n", self.host).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "GET {path}: {head}");
        body.to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
