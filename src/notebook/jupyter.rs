//! What jenv knows about Jupyter itself: tokens, URLs and whether the server answers.

use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes of OS randomness in a token: 24 bytes give 48 hex characters.
const TOKEN_BYTES: usize = 24;

/// A fresh token from the operating system's generator.
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the OS random generator failed: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The notebook's URL; `ui_path` (`lab`, `tree`, or empty for Jupyter's own default) picks the UI.
pub fn url(host_port: u16, ui_path: &str, token: &str) -> String {
    format!("http://127.0.0.1:{host_port}/{ui_path}?token={token}")
}

/// Asks Jupyter's `/api` on 127.0.0.1:`port` and returns the HTTP status, if any answer came.
/// `/api` answers without a token, so it tells "up" apart from "up but refusing us".
pub async fn api_status(port: u16, path_and_query: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!("GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 16];
        stream.read_exact(&mut head).await.ok()?;
        // "HTTP/1.1 200 OK": the status is the three digits after the first space.
        let text = std::str::from_utf8(&head).ok()?;
        text.split(' ').nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), exchange).await.ok().flatten()
}

/// What a notebook server says it is doing: its kernels, busy or idle, and when it was last
/// used (by a person, a browser tab or a kernel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub busy: u32,
    pub idle: u32,
    /// RFC 3339, as Jupyter gives it.
    pub last_activity: Option<String>,
}

/// Asks the server on 127.0.0.1:`port` for its status and kernels, with `no_track_activity` so
/// that asking never counts as activity; `None` when it does not answer.
pub async fn activity(port: u16, token: &str) -> Option<Activity> {
    let status: serde_json::Value = get_json(port, "/api/status?no_track_activity=1", token).await?;
    let kernels: Vec<serde_json::Value> = get_json(port, "/api/kernels?no_track_activity=1", token).await?;
    let busy = kernels.iter().filter(|k| k["execution_state"] == "busy").count() as u32;
    let last_activity = status["last_activity"].as_str().map(str::to_string);
    Some(Activity { busy, idle: kernels.len() as u32 - busy, last_activity })
}

/// `GET path_and_query` with the token; the body parsed as JSON, when the answer is a 200.
async fn get_json<T: serde::de::DeserializeOwned>(port: u16, path_and_query: &str, token: &str) -> Option<T> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: token {token}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        Some(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange).await.ok().flatten()?;
    let text = String::from_utf8(response).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1)? == "200").then(|| serde_json::from_str(body).ok()).flatten()
}

/// True once the notebook server answers `/api` with a success.
pub async fn is_ready(port: u16) -> bool {
    matches!(api_status(port, "/api").await, Some(200..=299))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_fresh() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 48);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn url_uses_loopback_and_token() {
        assert_eq!(url(8890, "", "abc"), "http://127.0.0.1:8890/?token=abc");
        assert_eq!(url(8890, "lab", "abc"), "http://127.0.0.1:8890/lab?token=abc");
    }

    #[tokio::test]
    async fn nothing_listening_is_not_ready() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(!is_ready(port).await);
    }

    /// Answers each of `answers` to one connection in turn, and returns the port.
    async fn serve(answers: Vec<&'static str>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let n = socket.read(&mut buf).await.unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(request.contains("no_track_activity=1"), "{request}");
                assert!(request.contains("Authorization: token t0k"), "{request}");
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        port
    }

    #[tokio::test]
    async fn activity_counts_busy_and_idle_kernels() {
        let port = serve(vec![
            "HTTP/1.1 200 OK\r\n\r\n{\"last_activity\": \"2026-11-30T05:01:02.5Z\", \"kernels\": 3}",
            "HTTP/1.1 200 OK\r\n\r\n[{\"execution_state\": \"busy\"}, {\"execution_state\": \"idle\"}, {\"execution_state\": \"starting\"}]",
        ])
        .await;
        let activity = activity(port, "t0k").await.unwrap();
        assert_eq!((activity.busy, activity.idle), (1, 2));
        assert_eq!(activity.last_activity.as_deref(), Some("2026-11-30T05:01:02.5Z"));
    }

    #[tokio::test]
    async fn a_refused_token_is_no_activity() {
        let port = serve(vec!["HTTP/1.1 403 Forbidden\r\n\r\n{}"]).await;
        assert_eq!(activity(port, "t0k").await, None);
    }

    #[tokio::test]
    async fn reads_the_status_line() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = socket.read(&mut buf).await;
            socket.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await.unwrap();
        });
        assert_eq!(api_status(port, "/api/contents").await, Some(403));
    }
}
