//! Which engine jenv talks to, resolved the way the docker CLI resolves it: `DOCKER_HOST`, else
//! `DOCKER_CONTEXT`, else `currentContext` in the docker config, else the default socket. Docker
//! Desktop, colima, OrbStack, Rancher Desktop and podman machine all install a context, so jenv
//! follows whatever `docker context use` chose.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Hinted, hinted};
use crate::state::files::{read_optional, read_text};

pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
/// A TLS engine's client files, as `docker --tlsverify` reads them.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// The engine address and why it was chosen (for messages and `jenv doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///path`, `tcp://host:port`, `http://host:port` or `ssh://[user@]host[:port]`.
    pub host: String,
    pub source: Source,
    /// For a TLS `tcp://` engine: the folder holding `ca.pem`, `cert.pem` and `key.pem`.
    pub tls: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    DockerHost,
    /// A named context, chosen by `DOCKER_CONTEXT` or by the config's `currentContext`.
    Context {
        name: String,
        by: ChosenBy,
    },
    DefaultSocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    DockerContext,
    /// `currentContext` in this config file.
    Config,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::DockerHost => f.write_str("DOCKER_HOST"),
            Source::Context { name, .. } => write!(f, "context {name}"),
            Source::DefaultSocket => f.write_str("default socket"),
        }
    }
}

/// What resolution reads from the process environment, gathered once so tests can fake it.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub docker_tls_verify: bool,
    /// `$DOCKER_CERT_PATH`: where the TLS client files are (else the config folder).
    pub docker_cert_path: Option<PathBuf>,
    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub config_dir: PathBuf,
}

impl Inputs {
    pub fn from_env() -> Inputs {
        // The docker CLI treats an empty variable as unset.
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let home =
            || var("HOME").map(PathBuf::from).or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().into()));
        let config_dir =
            var("DOCKER_CONFIG").map(PathBuf::from).unwrap_or_else(|| home().unwrap_or_default().join(".docker"));
        Inputs {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            docker_cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            config_dir,
        }
    }
}

impl Endpoint {
    /// Resolves the endpoint from this process's environment and docker config.
    pub fn from_env() -> Result<Endpoint> {
        Endpoint::resolve(&Inputs::from_env())
    }

    /// [`Endpoint::from_env`], adding to `warnings` what the person should hear about (a docker
    /// config they may not read); [`crate::engine::Engine::connect`] shows them, once per run.
    pub fn from_env_noting(warnings: &mut Vec<String>) -> Result<Endpoint> {
        Endpoint::resolve_noting(&Inputs::from_env(), warnings)
    }

    pub fn resolve(inputs: &Inputs) -> Result<Endpoint> {
        Endpoint::resolve_noting(inputs, &mut Vec::new())
    }

    fn resolve_noting(inputs: &Inputs, warnings: &mut Vec<String>) -> Result<Endpoint> {
        let endpoint = match (&inputs.docker_host, &inputs.docker_context) {
            (Some(host), _) => {
                let mut endpoint = Endpoint { host: host.clone(), source: Source::DockerHost, tls: None };
                if inputs.docker_tls_verify && endpoint.is_tcp() {
                    // As the docker CLI: the client files are in DOCKER_CERT_PATH, else ~/.docker.
                    endpoint.tls = Some(inputs.docker_cert_path.clone().unwrap_or_else(|| inputs.config_dir.clone()));
                }
                endpoint
            }
            (None, Some(name)) => context_endpoint(&inputs.config_dir, name, ChosenBy::DockerContext)?,
            (None, None) => match current_context(&inputs.config_dir, warnings)? {
                Some(name) => context_endpoint(&inputs.config_dir, &name, ChosenBy::Config)?,
                None => Endpoint::default_socket(),
            },
        };
        endpoint.check_scheme()?;
        Ok(endpoint)
    }

    fn default_socket() -> Endpoint {
        Endpoint { host: DEFAULT_SOCKET.to_string(), source: Source::DefaultSocket, tls: None }
    }

    /// An engine reached through ssh: its ports are on the remote host's loopback.
    pub fn is_ssh(&self) -> bool {
        self.host.starts_with("ssh://")
    }

    /// Where ssh logs in for an `ssh://` engine.
    pub fn ssh_target(&self) -> Option<SshTarget> {
        self.is_ssh().then(|| SshTarget::parse(&self.host).ok()).flatten()
    }

    /// Whether the engine's host is another machine as far as jenv can tell (ssh or tcp), so
    /// folder paths must be checked there.
    pub fn is_remote(&self) -> bool {
        self.unix_path().is_none()
    }

    /// Whether the notebook's published ports (on the engine host's loopback) can be reached
    /// from this machine: a local socket, an ssh engine (jenv forwards them) or a TCP engine on
    /// this machine's loopback.
    pub fn ports_reachable_here(&self) -> bool {
        if !self.is_tcp() {
            return true;
        }
        let authority = self.host.split_once("://").map_or(self.host.as_str(), |(_, rest)| rest);
        let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
        host == "localhost" || host == "[::1]" || host.starts_with("127.")
    }

    pub fn is_tcp(&self) -> bool {
        self.host.starts_with("tcp://") || self.host.starts_with("http://")
    }

    /// The socket path of a `unix://` endpoint.
    pub fn unix_path(&self) -> Option<&str> {
        self.host.strip_prefix("unix://")
    }

    /// unix sockets, TCP (plain, or TLS with its client files) and ssh are spoken; anything else,
    /// or TLS without its files, is refused before connecting.
    fn check_scheme(&self) -> Result<()> {
        if let Some(dir) = &self.tls {
            let missing: Vec<&str> = TLS_FILES.iter().copied().filter(|file| !dir.join(file).is_file()).collect();
            if !missing.is_empty() {
                hinted!(
                    "{} uses TLS, but {} has no {}",
                    self.host,
                    dir.display(),
                    missing.join(", ");
                    "put the engine's client files there, or set DOCKER_CERT_PATH to the folder that has them"
                );
            }
            return Ok(());
        }
        if self.is_ssh() {
            return SshTarget::parse(&self.host).map(|_| ());
        }
        if self.unix_path().is_some() || self.is_tcp() {
            return Ok(());
        }
        let scheme = self.host.split_once("://").map_or(self.host.as_str(), |(scheme, _)| scheme);
        hinted!(
            "jenv cannot connect to {} (from {}): `{scheme}` engines are not supported",
            self.host,
            self.source;
            "use a unix://, tcp:// or ssh:// engine address"
        )
    }
}

/// An `ssh://[user@]host[:port]` engine address as the ssh client takes it, read as the docker
/// CLI reads it: no password, path, query or fragment (a trailing `/` is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// `user@host` or `host`; an IPv6 address without its brackets.
    pub destination: String,
    pub port: Option<u16>,
}

impl SshTarget {
    pub fn parse(address: &str) -> Result<SshTarget> {
        let refuse = |why: &str| -> Result<SshTarget> {
            hinted!(
                "the ssh engine address {address} {why}";
                "use ssh://[user@]host[:port], as the docker CLI takes it"
            )
        };
        let Some(rest) = address.strip_prefix("ssh://") else { return refuse("does not start with ssh://") };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return refuse("has something after the host (a path, query or fragment)");
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => return refuse("holds a password, which ssh is never given"),
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => match bracketed.split_once(']') {
                Some((host, "")) => (host, None),
                Some((host, tail)) => match tail.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return refuse("has an unreadable host"),
                },
                None => return refuse("has an unreadable host"),
            },
            None => match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() || user.is_some_and(str::is_empty) {
            return refuse("has no host");
        }
        let port = match port.map(|port| port.parse::<u16>()) {
            Some(Ok(port)) if port > 0 => Some(port),
            Some(_) => return refuse("has a port that is not a number from 1 to 65535"),
            None => None,
        };
        let destination = match user {
            Some(user) => format!("{user}@{host}"),
            None => host.to_string(),
        };
        Ok(SshTarget { destination, port })
    }

    /// The arguments that end an ssh command line: the port if any, then the destination
    /// (after `--`, so a destination never reads as an option).
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.extend(["--".to_string(), self.destination.clone()]);
        args
    }
}

/// The config's `currentContext`, `None` for none or "default". A missing config is no context.
fn current_context(config_dir: &Path, warnings: &mut Vec<String>) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(rename = "currentContext", default)]
        current_context: String,
    }
    let path = config_dir.join("config.json");
    let text = match read_optional(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        // As the docker CLI does: a config this user may not read (another user's HOME, as under
        // sudo or setpriv) is warned about and the default engine used.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            warnings.push(format!("cannot read {} ({e}); using the default engine", path.display()));
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config: Config = serde_json::from_str(&text).map_err(|e| {
        Hinted::new(
            format!("cannot read the docker config {}: {e}", path.display()),
            "fix the file (it is JSON), or point DOCKER_CONFIG at another folder",
        )
    })?;
    Ok(Some(config.current_context).filter(|name| !name.is_empty() && name != "default"))
}

/// The docker endpoint of context `name`, as `docker context create` stored it.
fn context_endpoint(config_dir: &Path, name: &str, by: ChosenBy) -> Result<Endpoint> {
    if name == "default" {
        return Ok(Endpoint::default_socket());
    }
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "Endpoints", default)]
        endpoints: Endpoints,
    }
    #[derive(Deserialize, Default)]
    struct Endpoints {
        docker: Option<DockerEndpoint>,
    }
    #[derive(Deserialize)]
    struct DockerEndpoint {
        #[serde(rename = "Host", default)]
        host: String,
        #[serde(rename = "SkipTLSVerify", default)]
        skip_tls_verify: bool,
    }
    let hash = context_hash(name);
    let path = config_dir.join("contexts/meta").join(&hash).join("meta.json");
    let text = match read_text(&path)? {
        Some(text) => text,
        None => {
            let (chosen, fix) = match by {
                ChosenBy::DockerContext => {
                    ("DOCKER_CONTEXT names".to_string(), "unset DOCKER_CONTEXT or set it to a context".to_string())
                }
                ChosenBy::Config => (
                    format!("{} names", config_dir.join("config.json").display()),
                    "switch with `docker context use default` or `docker context use NAME`".to_string(),
                ),
            };
            hinted!(
                "{chosen} the Docker context `{name}`, which does not exist (no {})",
                path.display();
                format!("{fix} that `docker context ls` lists")
            );
        }
    };
    let meta: Meta = serde_json::from_str(&text)
        .with_context(|| format!("cannot read the context `{name}` ({})", path.display()))?;
    let Some(docker) = meta.endpoints.docker.filter(|d| !d.host.is_empty()) else {
        hinted!("the Docker context `{name}` has no Docker endpoint"; "see it with `docker context inspect {name}`");
    };
    let mut endpoint =
        Endpoint { host: docker.host, source: Source::Context { name: name.to_string(), by }, tls: None };
    let tls = config_dir.join("contexts/tls").join(&hash).join("docker");
    if endpoint.is_tcp() && tls.is_dir() {
        endpoint.tls = Some(tls);
    } else if endpoint.is_tcp() && docker.skip_tls_verify {
        hinted!(
            "the Docker context `{name}` uses TLS without verifying the engine ({}), which jenv does not do",
            endpoint.host;
            "give the context its client files (`docker context update --docker ca=...,cert=...,key=...`), or set DOCKER_HOST"
        );
    }
    Ok(endpoint)
}

/// The folder name a context is stored under: the hex sha256 of its name.
fn context_hash(name: &str) -> String {
    Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &Path) -> Inputs {
        Inputs { config_dir: dir.to_path_buf(), ..Default::default() }
    }

    fn write_context(dir: &Path, name: &str, endpoint: &str) {
        let meta = dir.join("contexts/meta").join(context_hash(name));
        std::fs::create_dir_all(&meta).unwrap();
        let json = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{endpoint}","SkipTLSVerify":false}}}}}}"#
        );
        std::fs::write(meta.join("meta.json"), json).unwrap();
    }

    fn set_current(dir: &Path, name: &str) {
        std::fs::write(dir.join("config.json"), format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#)).unwrap();
    }

    fn message(err: anyhow::Error) -> String {
        crate::error::render(&err)
    }

    #[test]
    fn the_context_folder_is_the_sha256_of_its_name() {
        // As `docker context create desktop-linux` stores it.
        assert_eq!(context_hash("desktop-linux"), "fe9c6bd7a66301f49ca9b6a70b217107cd1284598bfc254700c989b916da791e");
    }

    #[test]
    fn nothing_configured_means_the_default_socket() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::resolve(&inputs(dir.path())).unwrap();
        assert_eq!(endpoint, Endpoint { host: DEFAULT_SOCKET.into(), source: Source::DefaultSocket, tls: None });
        assert_eq!(endpoint.source.to_string(), "default socket");
    }

    #[test]
    fn docker_host_wins_over_every_context() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "colima", "unix:///colima.sock");
        set_current(dir.path(), "colima");
        let inputs = Inputs {
            docker_host: Some("tcp://10.0.0.1:2375".into()),
            docker_context: Some("colima".into()),
            ..inputs(dir.path())
        };
        let endpoint = Endpoint::resolve(&inputs).unwrap();
        assert_eq!(endpoint.host, "tcp://10.0.0.1:2375");
        assert_eq!(endpoint.source.to_string(), "DOCKER_HOST");
    }

    #[test]
    fn docker_context_wins_over_the_current_context() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "colima", "unix:///colima.sock");
        write_context(dir.path(), "orbstack", "unix:///orbstack.sock");
        set_current(dir.path(), "orbstack");
        let inputs = Inputs { docker_context: Some("colima".into()), ..inputs(dir.path()) };
        let endpoint = Endpoint::resolve(&inputs).unwrap();
        assert_eq!(endpoint.host, "unix:///colima.sock");
        assert_eq!(endpoint.source, Source::Context { name: "colima".into(), by: ChosenBy::DockerContext });
        assert_eq!(endpoint.source.to_string(), "context colima");
    }

    #[test]
    fn the_current_context_is_read_from_config_json() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "orbstack", "unix:///orbstack.sock");
        set_current(dir.path(), "orbstack");
        let endpoint = Endpoint::resolve(&inputs(dir.path())).unwrap();
        assert_eq!(endpoint.host, "unix:///orbstack.sock");
        assert_eq!(endpoint.source, Source::Context { name: "orbstack".into(), by: ChosenBy::Config });
        assert_eq!(endpoint.unix_path(), Some("/orbstack.sock"));
    }

    #[test]
    fn the_default_context_is_the_default_socket() {
        let dir = tempfile::tempdir().unwrap();
        set_current(dir.path(), "default");
        assert_eq!(Endpoint::resolve(&inputs(dir.path())).unwrap().source, Source::DefaultSocket);
        let inputs = Inputs { docker_context: Some("default".into()), ..inputs(dir.path()) };
        assert_eq!(Endpoint::resolve(&inputs).unwrap().host, DEFAULT_SOCKET);
    }

    #[test]
    fn a_config_without_current_context_means_the_default_socket() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"auths":{"ghcr.io":{}}}"#).unwrap();
        assert_eq!(Endpoint::resolve(&inputs(dir.path())).unwrap().source, Source::DefaultSocket);
    }

    #[test]
    fn a_missing_context_is_named_with_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = Inputs { docker_context: Some("nope".into()), ..inputs(dir.path()) };
        let err = message(Endpoint::resolve(&inputs).unwrap_err());
        assert!(
            err.starts_with("error: DOCKER_CONTEXT names the Docker context `nope`, which does not exist"),
            "{err}"
        );
        assert!(
            err.contains("hint: unset DOCKER_CONTEXT or set it to a context that `docker context ls` lists"),
            "{err}"
        );

        set_current(dir.path(), "gone");
        let err = message(Endpoint::resolve(&super::tests::inputs(dir.path())).unwrap_err());
        assert!(err.contains("config.json names the Docker context `gone`, which does not exist"), "{err}");
        assert!(err.contains("hint: switch with `docker context use default`"), "{err}");
    }

    #[test]
    fn a_broken_config_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
        let err = message(Endpoint::resolve(&inputs(dir.path())).unwrap_err());
        assert!(err.contains("cannot read the docker config") && err.contains("config.json"), "{err}");
    }

    #[test]
    fn tls_engines_find_their_client_files_as_the_docker_cli_does() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.1:2376");
        let context_tls = dir.path().join("contexts/tls").join(context_hash("remote")).join("docker");
        std::fs::create_dir_all(&context_tls).unwrap();
        let inputs = Inputs { docker_context: Some("remote".into()), ..inputs(dir.path()) };
        let err = message(Endpoint::resolve(&inputs).unwrap_err());
        assert!(err.contains("tcp://10.0.0.1:2376 uses TLS") && err.contains("no ca.pem, cert.pem, key.pem"), "{err}");
        for file in TLS_FILES {
            std::fs::write(context_tls.join(file), "pem").unwrap();
        }
        assert_eq!(Endpoint::resolve(&inputs).unwrap().tls, Some(context_tls.clone()));

        let certs = dir.path().join("certs");
        let tls = Inputs {
            docker_host: Some("tcp://10.0.0.1:2376".into()),
            docker_tls_verify: true,
            docker_cert_path: Some(certs.clone()),
            ..super::tests::inputs(dir.path())
        };
        assert!(message(Endpoint::resolve(&tls).unwrap_err()).contains("has no ca.pem"));
        std::fs::create_dir_all(&certs).unwrap();
        for file in TLS_FILES {
            std::fs::write(certs.join(file), "pem").unwrap();
        }
        assert_eq!(Endpoint::resolve(&tls).unwrap().tls, Some(certs));
    }

    #[test]
    fn ssh_engines_are_remote_and_odd_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = Inputs { docker_host: Some("ssh://me@box".into()), ..inputs(dir.path()) };
        let endpoint = Endpoint::resolve(&ssh).unwrap();
        assert!(endpoint.is_ssh() && endpoint.is_remote());
        let with_port = Inputs { docker_host: Some("ssh://me@box:2222".into()), ..inputs(dir.path()) };
        let endpoint = Endpoint::resolve(&with_port).unwrap();
        assert_eq!(endpoint.ssh_target(), Some(SshTarget { destination: "me@box".into(), port: Some(2222) }));
        let with_path = Inputs { docker_host: Some("ssh://me@box/var/run".into()), ..inputs(dir.path()) };
        assert!(message(Endpoint::resolve(&with_path).unwrap_err()).contains("something after the host"));
        let npipe = Inputs { docker_host: Some("npipe:////./pipe/docker_engine".into()), ..inputs(dir.path()) };
        assert!(message(Endpoint::resolve(&npipe).unwrap_err()).contains("`npipe` engines are not supported"));
    }

    #[test]
    fn ssh_addresses_read_as_the_docker_cli_reads_them() {
        let target = |address: &str| SshTarget::parse(address).map_err(message);
        let ok = |destination: &str, port: Option<u16>| Ok(SshTarget { destination: destination.into(), port });
        assert_eq!(target("ssh://root@127.0.0.1:2222"), ok("root@127.0.0.1", Some(2222)));
        assert_eq!(target("ssh://box"), ok("box", None));
        assert_eq!(target("ssh://me@box/"), ok("me@box", None));
        assert_eq!(target("ssh://me@[::1]:2222"), ok("me@::1", Some(2222)));
        assert_eq!(target("ssh://[fe80::1]"), ok("fe80::1", None));
        assert_eq!(target("ssh://first.last@corp@box:22"), ok("first.last@corp@box", Some(22)));
        assert_eq!(target("ssh://box:2222").unwrap().args(), ["-p", "2222", "--", "box"]);
        assert_eq!(target("ssh://me@box").unwrap().args(), ["--", "me@box"]);
        for (bad, why) in [
            ("ssh://me:secret@box", "holds a password"),
            ("ssh://box:ssh", "has a port that is not a number"),
            ("ssh://box:0", "has a port that is not a number"),
            ("ssh://box:70000", "has a port that is not a number"),
            ("ssh://box/path", "something after the host"),
            ("ssh://box?x=1", "something after the host"),
            ("ssh://", "has no host"),
            ("ssh://me@:22", "has no host"),
            ("ssh://[::1", "unreadable host"),
            ("tcp://box:2375", "does not start with ssh://"),
        ] {
            let err = target(bad).unwrap_err();
            assert!(err.contains(why) && err.contains("hint: use ssh://[user@]host[:port]"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_plain_tcp_context_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "lan", "tcp://10.0.0.1:2375");
        let inputs = Inputs { docker_context: Some("lan".into()), ..inputs(dir.path()) };
        let lan = Endpoint::resolve(&inputs).unwrap();
        assert_eq!(lan.host, "tcp://10.0.0.1:2375");
        assert!(!lan.ports_reachable_here());
        let here = Endpoint { host: "tcp://127.0.0.1:2375".into(), ..lan };
        assert!(here.ports_reachable_here());
    }
}
