//! Registries: which one a repository names, and the user's own credentials for it, read the way
//! the docker CLI reads them from its config (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): a `credHelpers` entry for the host, else the `credsStore`, else
//! `auths`. jenv keeps no credentials of its own; `docker login HOST` is how a user logs in.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::Hinted;
use crate::state::files::read_text;

/// Docker Hub's key in `auths`, as `docker login` writes it.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The registry host a reference names explicitly (`registry.example.org:5000/team/x` names
/// `registry.example.org:5000`), as Docker's parser decides: a first component with a `.` or
/// `:`, or `localhost`. `None` for names on Docker Hub by default (`jenv/x`).
pub fn host_of(reference: &str) -> Option<&str> {
    let (first, _) = reference.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// A login for one registry, as the docker CLI saved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The registry's address as the docker config names it.
    pub server: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A token the registry gave in place of a password.
    pub identity_token: Option<String>,
}

impl Credentials {
    fn for_server(server: &str) -> Credentials {
        Credentials { server: server.to_string(), username: None, password: None, identity_token: None }
    }
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    /// base64 of `user:password`.
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The user's credentials for the registry `image` lives on, from their docker config.
pub fn credentials_for(image: &str) -> Result<Option<Credentials>> {
    credentials(&crate::engine::endpoint::Inputs::from_env().config_dir, host_of(image))
}

/// What to do when the registry of `image` refuses: log in the docker way.
pub fn login_hint(image: &str) -> String {
    match host_of(image) {
        Some(host) => {
            format!("log in with `docker login {host}` (jenv uses the docker CLI's saved logins), then run again")
        }
        None => "log in with `docker login` (jenv uses the docker CLI's saved logins), then run again".to_string(),
    }
}

/// The user's credentials for `host` (`None` for Docker Hub's default registry), if any.
pub fn credentials(config_dir: &Path, host: Option<&str>) -> Result<Option<Credentials>> {
    let path = config_dir.join("config.json");
    let Some(text) = read_text(&path)? else { return Ok(None) };
    let config: Config = serde_json::from_str(&text).map_err(|e| {
        Hinted::new(
            format!("cannot read the docker config {}: {e}", path.display()),
            "fix the file (it is JSON), or point DOCKER_CONFIG at another folder",
        )
    })?;
    let server = host.unwrap_or(DOCKER_HUB_KEY);
    if let Some(helper) = config.cred_helpers.get(server).or(config.creds_store.as_ref()) {
        return from_helper(helper, server);
    }
    let entry = config.auths.iter().find(|(key, _)| same_server(key, server)).map(|(_, entry)| entry);
    let Some(entry) = entry else { return Ok(None) };
    let mut credentials = Credentials::for_server(server);
    if let Some(token) = &entry.identitytoken {
        credentials.identity_token = Some(token.clone());
    }
    if let Some(auth) = &entry.auth {
        let decoded = decode_base64(auth)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .with_context(|| format!("the saved login for {server} in {} is garbled", path.display()))?;
        let (user, password) = decoded
            .split_once(':')
            .with_context(|| format!("the saved login for {server} in {} has no user", path.display()))?;
        credentials.username = Some(user.to_string());
        credentials.password = Some(password.to_string());
    }
    Ok(Some(credentials))
}

/// `auths` keys are written as `host`, `https://host` or `https://host/v1/`.
fn same_server(key: &str, server: &str) -> bool {
    let bare = |s: &str| {
        let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
        s.split('/').next().unwrap_or(s).to_string()
    };
    bare(key) == bare(server)
}

/// Asks `docker-credential-NAME get`, as the docker CLI does: the server on stdin, JSON out.
fn from_helper(helper: &str, server: &str) -> Result<Option<Credentials>> {
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Hinted::new(
                format!("the docker config names the credential helper `{helper}`, but {program} cannot run: {e}"),
                format!("install {program}, or remove `{helper}` from credsStore/credHelpers in your docker config"),
            )
        })?;
    child.stdin.take().context("the helper's stdin")?.write_all(server.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        // Helpers say "credentials not found" on stdout for a server with no saved login.
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        if said.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        anyhow::bail!("{program} get failed for {server}: {}", said.trim());
    }
    let reply: Reply =
        serde_json::from_slice(&out.stdout).with_context(|| format!("{program} get gave no credentials JSON"))?;
    let mut credentials = Credentials::for_server(server);
    // Helpers return an identity token under the user name `<token>`.
    if reply.username == "<token>" {
        credentials.identity_token = Some(reply.secret);
    } else {
        credentials.username = Some(reply.username);
        credentials.password = Some(reply.secret);
    }
    Ok(Some(credentials))
}

/// Standard base64 (with or without padding); `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.trim().trim_end_matches('=').bytes().map(value).collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let bits = chunk.iter().enumerate().fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        match chunk.len() {
            4 => out.extend_from_slice(&bytes),
            3 => out.extend_from_slice(&bytes[..2]),
            2 => out.push(bytes[0]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_named_as_dockers_parser_names_them() {
        assert_eq!(host_of("registry.example.org:5000/team/analysis"), Some("registry.example.org:5000"));
        assert_eq!(host_of("127.0.0.1:5000/x"), Some("127.0.0.1:5000"));
        assert_eq!(host_of("localhost/x"), Some("localhost"));
        assert_eq!(host_of("jenv/analysis"), None);
        assert_eq!(host_of("python"), None);
    }

    #[test]
    fn base64_decodes_logins() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("dTpw").unwrap(), b"u:p");
        assert_eq!(decode_base64("dTpwMQ==").unwrap(), b"u:p1");
        assert_eq!(decode_base64("dTpwMTI=").unwrap(), b"u:p12");
        assert!(decode_base64("not base64!").is_none());
    }

    #[test]
    fn saved_logins_are_found_by_host_in_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let config = r#"{"auths": {"https://reg.example:5000": {"auth": "dXNlcjpwYXNz"}, "https://index.docker.io/v1/": {"auth": "aHViOmh1Yg=="}}}"#;
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let found = credentials(dir.path(), Some("reg.example:5000")).unwrap().unwrap();
        assert_eq!((found.username.as_deref(), found.password.as_deref()), (Some("user"), Some("pass")));
        assert_eq!(credentials(dir.path(), None).unwrap().unwrap().username.as_deref(), Some("hub"));
        assert!(credentials(dir.path(), Some("other:1")).unwrap().is_none());
        assert!(credentials(&dir.path().join("none"), Some("reg.example:5000")).unwrap().is_none());
    }
}
