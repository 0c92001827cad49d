//! A real sshd on loopback for remote-engine tests: Debian's openssh-server on a free 127.0.0.1
//! port with a host key and a client key made for the test, and an `ssh` on PATH that uses them
//! (the system client, given `-F` with the test's config). Stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The name the test's ssh config gives 127.0.0.1:PORT as root.
const HOST_ALIAS: &str = "jenv-test-engine";

pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    /// `None` when sshd is not installed or the tests do not run as root (the engine's host user).
    pub fn start() -> Option<Sshd> {
        if !std::path::Path::new("/usr/sbin/sshd").exists() || !super::is_root() {
            eprintln!("SKIPPED: needs root and /usr/sbin/sshd (scripts/install-test-deps.sh installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        for key in ["host_key", "client_key"] {
            let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path(key)).status();
            assert!(made.unwrap().success(), "ssh-keygen {key}");
        }
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap(); // sshd's privilege separation folder
        let port = super::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nAllowTcpForwarding yes\n",
            path("host_key").display(),
            path("sshd.pid").display(),
            path("authorized_keys").display()
        );
        std::fs::write(path("sshd_config"), config).unwrap();
        // The engine's host by name, as users set remote hosts up in ~/.ssh/config; and by its
        // address, where port and user come from the engine address alone (keys and host
        // checking as for any host).
        let key = format!(
            "  IdentityFile {}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            path("client_key").display()
        );
        let client =
            format!("Host {HOST_ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n{key}Host 127.0.0.1\n{key}");
        std::fs::write(path("ssh_config"), client).unwrap();
        std::fs::create_dir(path("bin")).unwrap();
        let wrapper = format!("#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n", path("ssh_config").display());
        std::fs::write(path("bin/ssh"), wrapper).unwrap();
        std::fs::set_permissions(path("bin/ssh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

        let log = std::fs::File::create(path("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let sshd = Sshd { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen: {}", sshd.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sshd)
    }

    /// `DOCKER_HOST` for the engine of this machine reached through this sshd.
    pub fn docker_host(&self) -> String {
        format!("ssh://{HOST_ALIAS}")
    }

    /// `DOCKER_HOST` for the same engine by address, port and user: `ssh://root@127.0.0.1:PORT`,
    /// with no `Port` for that host in the ssh config.
    pub fn docker_host_with_port(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// PATH with the test's `ssh` first.
    pub fn path(&self) -> String {
        format!("{}:{}", self.bin().display(), std::env::var("PATH").unwrap_or_default())
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // ssh clients that used this server's config (jenv's forwards, its engine connections)
        // first, when a killed jenv left one; the server's per-connection processes end with them.
        let config = self.dir.path().join("ssh_config");
        let _ = Command::new("pkill").args(["-f", "--"]).arg(format!("-F {}", config.display())).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
