//! Running code in a notebook kernel the way the browser does: a kernel started through the
//! REST API, an `execute_request` over the kernel's websocket, its output read back.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message;

use super::{NotebookUrl, http};

/// What a cell printed, or the error it raised.
#[derive(Debug)]
pub struct CellOutput {
    pub stdout: String,
    pub error: Option<String>,
}

/// Opens a notebook session (as the browser does for `jenv-test.ipynb` in the served folder, so
/// the kernel starts in that folder), runs `code`, ends the session and returns what it printed.
#[track_caller]
pub fn run_cell(url: &NotebookUrl, code: &str) -> CellOutput {
    let session = r#"{"path": "jenv-test.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}}"#;
    let (status, body) = http(url.port, "POST", &format!("/api/sessions?token={}", url.token), Some(session));
    assert_eq!(status, 201, "starting a session: {body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    let kernel = session["kernel"]["id"].as_str().unwrap().to_string();
    let output = execute(url, &kernel, code);
    let id = session["id"].as_str().unwrap();
    http(url.port, "DELETE", &format!("/api/sessions/{id}?token={}", url.token), None);
    output
}

/// Starts a kernel as API clients and editors do, with `POST /api/kernels` and no notebook
/// path (so it runs in the server's own folder), runs `code`, shuts it down and returns what it
/// printed.
#[track_caller]
pub fn run_in_new_kernel(url: &NotebookUrl, code: &str) -> CellOutput {
    let (status, body) =
        http(url.port, "POST", &format!("/api/kernels?token={}", url.token), Some(r#"{"name": "python3"}"#));
    assert_eq!(status, 201, "starting a kernel: {body}");
    let kernel: Value = serde_json::from_str(&body).unwrap();
    let id = kernel["id"].as_str().unwrap().to_string();
    let output = execute(url, &id, code);
    http(url.port, "DELETE", &format!("/api/kernels/{id}?token={}", url.token), None);
    output
}

/// Starts a kernel with `POST /api/kernels` and returns its ID; it stays until the notebook stops.
#[track_caller]
pub fn start_kernel(url: &NotebookUrl) -> String {
    let (status, body) =
        http(url.port, "POST", &format!("/api/kernels?token={}", url.token), Some(r#"{"name": "python3"}"#));
    assert_eq!(status, 201, "starting a kernel: {body}");
    let kernel: Value = serde_json::from_str(&body).unwrap();
    kernel["id"].as_str().unwrap().to_string()
}

/// Sends `code` to the kernel and returns once the kernel says it is busy with it, leaving it
/// running (a `time.sleep`, an allocation the kernel dies of).
#[track_caller]
pub fn start_cell(url: &NotebookUrl, kernel: &str, code: &str) {
    let mut socket = connect(url, kernel);
    // The server's own kernel_info requests (at the kernel's start and when a client connects,
    // on the shell and control channels) end in an `idle` status that Jupyter would take for
    // the kernel's state: they are let finish first, so the last status Jupyter sees is the
    // cell's `busy`.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        assert!(Instant::now() < deadline, "the kernel never went quiet");
        if next_message(&mut socket).is_some() {
            quiet_since = Instant::now();
        }
    }
    let msg_id = send_execute(&mut socket, code);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the kernel never said it was busy with the cell");
        let Some(message) = next_message(&mut socket) else { continue };
        if message["parent_header"]["msg_id"] == msg_id.as_str()
            && message["header"]["msg_type"] == "status"
            && message["content"]["execution_state"] == "busy"
        {
            break;
        }
    }
    let _ = socket.close(None);
}

/// Sends `code`, which the kernel dies of (an allocation past the memory limit), and returns
/// once Jupyter says the kernel is restarting or dead.
#[track_caller]
pub fn run_until_the_kernel_dies(url: &NotebookUrl, kernel: &str, code: &str) {
    let mut socket = connect(url, kernel);
    send_execute(&mut socket, code);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the kernel never died of the cell");
        let Some(message) = next_message(&mut socket) else { continue };
        if message["header"]["msg_type"] == "status"
            && matches!(message["content"]["execution_state"].as_str(), Some("restarting" | "dead"))
        {
            break;
        }
    }
    let _ = socket.close(None);
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn connect(url: &NotebookUrl, kernel: &str) -> Socket {
    let address = format!("ws://127.0.0.1:{}/api/kernels/{kernel}/channels?token={}", url.port, url.token);
    let (socket, _) = tungstenite::connect(address.as_str()).expect("the kernel's websocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    socket
}

/// The next JSON message; `None` when none came within the read timeout (or it was not text).
fn next_message(socket: &mut Socket) -> Option<Value> {
    match socket.read() {
        Ok(Message::Text(text)) => Some(serde_json::from_str(&text).unwrap()),
        Ok(_) => None,
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
        {
            None
        }
        Err(e) => panic!("the kernel's websocket failed: {e}"),
    }
}

/// Sends an `execute_request` for `code` and returns its message ID.
fn send_execute(socket: &mut Socket, code: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg_id = format!("jenv-test-{}-{n}", std::process::id());
    let request = json!({
        "header": {"msg_id": msg_id, "username": "jenv-test", "session": "jenv-test", "msg_type": "execute_request",
                   "version": "5.3", "date": "2026-01-01T00:00:00Z"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": false, "store_history": false, "user_expressions": {},
                    "allow_stdin": false, "stop_on_error": true},
    });
    socket.send(Message::text(request.to_string())).unwrap();
    msg_id
}

fn execute(url: &NotebookUrl, kernel: &str, code: &str) -> CellOutput {
    let mut socket = connect(url, kernel);
    let msg_id = send_execute(&mut socket, code);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut output = CellOutput { stdout: String::new(), error: None };
    loop {
        assert!(Instant::now() < deadline, "the kernel did not finish the cell; so far: {output:?}");
        let Some(message) = next_message(&mut socket) else { continue };
        if message["parent_header"]["msg_id"] != msg_id.as_str() {
            continue;
        }
        let content = &message["content"];
        match message["header"]["msg_type"].as_str().unwrap_or_default() {
            "stream" => output.stdout.push_str(content["text"].as_str().unwrap_or_default()),
            "error" => output.error = Some(format!("{}: {}", content["ename"], content["evalue"])),
            "status" if content["execution_state"] == "idle" => break,
            _ => {}
        }
    }
    let _ = socket.close(None);
    output
}
