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
