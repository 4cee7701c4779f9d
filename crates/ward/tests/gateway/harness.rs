//! Test harness: a mock upstream on 127.0.0.1, the `ward` binary as a child process, and a
//! small HTTP/1.1 client over `TcpStream` so that tests see exactly what goes on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The provider key given to the gateway; it must never reach a client or a log.
pub const PROVIDER_KEY: &str = "sk-upstream-PROVIDERSECRET-0123456789abcdefghij";

const MODELS: &[&str] = &[
    "mock-gpt",
    "mock-slow",
    "mock-500",
    "mock-reset",
    "mock-badjson",
    "mock-401",
    "mock-400",
    "mock-badstream",
];

fn ward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ward")
}

/// Polls `f` for up to ten seconds.
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------------------------------
// Mock upstream.

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

#[derive(Default)]
struct MockState {
    requests: Mutex<Vec<Seen>>,
    gate: Mutex<bool>,
    gate_cv: Condvar,
}

/// An OpenAI-like upstream whose behaviour is chosen by the model name and the last
/// message (`ECHO:text`, `STREAM:a|b`, `GATED:a|b`).
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<MockState>,
}

impl Mock {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(MockState::default());
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        Self { addr, state }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn release_gate(&self) {
        *self.state.gate.lock().unwrap() = true;
        self.state.gate_cv.notify_all();
    }
}

fn read_request(conn: &mut TcpStream) -> std::io::Result<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Seen {
        path: path.trim_start_matches("/v1").to_string(),
        headers,
        body,
    })
}

fn respond(
    conn: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

fn handle(mut conn: TcpStream, st: &MockState) -> std::io::Result<()> {
    let mut seen = read_request(&mut conn)?;
    seen.path = format!("/v1{}", seen.path);
    st.requests.lock().unwrap().push(seen.clone());
    let req: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or_default().to_string();
    let auth = seen.header("authorization").unwrap_or_default();
    let provider_key = auth.trim_start_matches("Bearer ");
    match model.as_str() {
        "mock-slow" => {
            std::thread::sleep(Duration::from_secs(4));
            return respond(&mut conn, "200 OK", "application/json", "{}");
        }
        "mock-500" => {
            return respond(
                &mut conn,
                "500 Internal Server Error",
                "application/json",
                r#"{"error":{"message":"boom"}}"#,
            );
        }
        "mock-reset" => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial");
            return conn.shutdown(std::net::Shutdown::Both);
        }
        "mock-badjson" => {
            return respond(&mut conn, "200 OK", "application/json", "this is not json");
        }
        "mock-401" | "mock-400" => {
            let body = json!({"error": {"message": format!("Incorrect API key provided: {provider_key}"), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
            let status = if model == "mock-401" {
                "401 Unauthorized"
            } else {
                "400 Bad Request"
            };
            return respond(&mut conn, status, "application/json", &body.to_string());
        }
        "mock-badstream" => {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
            )?;
            conn.write_all(
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok-part\"}}]}\n\n",
            )?;
            conn.write_all(b"data: {broken\n\n")?;
            return conn.flush();
        }
        _ => {}
    }
    let last = last_text(&req);
    let stream = req["stream"].as_bool() == Some(true);
    if stream {
        let (gated, text) = match (last.strip_prefix("GATED:"), last.strip_prefix("STREAM:")) {
            (Some(t), _) => (true, t.to_string()),
            (_, Some(t)) => (false, t.to_string()),
            _ => (false, "ok".to_string()),
        };
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        )?;
        let pieces: Vec<&str> = text.split('|').collect();
        for (i, piece) in pieces.iter().enumerate() {
            let ev = json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]});
            write!(conn, "data: {ev}\n\n")?;
            conn.flush()?;
            if gated && i == 0 {
                let mut open = st.gate.lock().unwrap();
                let end = Instant::now() + Duration::from_secs(20);
                while !*open && Instant::now() < end {
                    open = st
                        .gate_cv
                        .wait_timeout(open, Duration::from_millis(100))
                        .unwrap()
                        .0;
                }
            }
        }
        let usage = json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": pieces.len(), "total_tokens": 5 + pieces.len()}});
        write!(conn, "data: {usage}\n\ndata: [DONE]\n\n")?;
        return conn.flush();
    }
    let answer = last.strip_prefix("ECHO:").unwrap_or("ok").to_string();
    let usage = json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7});
    let body = match seen.path.as_str() {
        "/v1/completions" => {
            json!({"object": "text_completion", "choices": [{"index": 0, "text": answer}], "usage": usage})
        }
        "/v1/embeddings" => {
            json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 5, "total_tokens": 5}})
        }
        "/v1/responses" => {
            json!({"object": "response", "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}], "usage": {"input_tokens": 5, "output_tokens": 2}})
        }
        _ => {
            json!({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}], "usage": usage})
        }
    };
    respond(&mut conn, "200 OK", "application/json", &body.to_string())
}

fn last_text(req: &Value) -> String {
    if let Some(m) = req["messages"].as_array().and_then(|m| m.last()) {
        return match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
            _ => String::new(),
        };
    }
    ["prompt", "input"]
        .iter()
        .find_map(|k| req[*k].as_str().map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// The gateway process.

pub fn write_config(dir: &Path, mock: &Mock, server_extra: &str, extra: &str) -> PathBuf {
    // A port that was free a moment ago and now has no listener: "upstream unavailable".
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let models: Vec<String> = MODELS.iter().map(|m| format!("\"{m}\"")).collect();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 20\n{server_extra}\n[store]\npath = \"ward.db\"\n\n\
         [[upstreams]]\nname = \"local\"\nbase_url = \"http://{}/v1\"\napi_key_env = \"UPSTREAM_KEY\"\nmodels = [{}]\ntimeout_secs = 2\n\n\
         [[upstreams]]\nname = \"down\"\nbase_url = \"http://{closed}/v1\"\nmodels = [\"mock-down\"]\nconnect_timeout_ms = 1000\n\n{extra}",
        mock.addr,
        models.join(", ")
    );
    let path = dir.join("ward.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn ward_output(args: &[&str]) -> Output {
    ward_output_env(args, &[("UPSTREAM_KEY", PROVIDER_KEY)])
}

pub fn ward_output_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(ward_bin());
    cmd.args(args)
        .env_remove("UPSTREAM_KEY")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub struct Gateway {
    _dir: tempfile::TempDir,
    config: String,
    pub addr: SocketAddr,
    pub audit_path: PathBuf,
    admin_secret: String,
    child: Mutex<Option<Child>>,
    stderr: Arc<Mutex<String>>,
}

impl Gateway {
    pub fn start(mock: &Mock, extra: &str) -> Self {
        Self::start_with(mock, "", extra)
    }

    pub fn start_with(mock: &Mock, server_extra: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), mock, server_extra, extra);
        let config = config.to_str().unwrap().to_string();
        let init = ward_output(&["gateway", "init", "--config", &config]);
        assert!(
            init.status.success(),
            "init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let stdout = String::from_utf8(init.stdout).unwrap();
        let audit_path = PathBuf::from(stdout.lines().last().unwrap());
        let admin_secret = std::fs::read_to_string(dir.path().join("ward.db.admin"))
            .unwrap()
            .trim()
            .to_string();

        let mut child = Command::new(ward_bin())
            .args(["gateway", "--config", &config])
            .env("UPSTREAM_KEY", PROVIDER_KEY)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let rest = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("listening on https://").nth(1));
                if let Some(rest) = rest {
                    let addr: SocketAddr = rest
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .trim_matches('"')
                        .parse()
                        .unwrap();
                    let _ = tx.send(addr);
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("gateway did not start: {}", stderr.lock().unwrap()));
        Self {
            _dir: dir,
            config,
            addr,
            audit_path,
            admin_secret,
            child: Mutex::new(Some(child)),
            stderr,
        }
    }

    pub fn config_str(&self) -> &str {
        &self.config
    }

    /// Runs `ward` with these arguments, asserts success and returns stdout.
    pub fn ward(&self, args: &[&str]) -> String {
        let out = ward_output(args);
        assert!(
            out.status.success(),
            "ward {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates a key and returns it (the last line of stdout).
    pub fn create_key(&self, args: &[&str]) -> String {
        let mut all = vec!["keys", "create", "--config", self.config.as_str()];
        all.extend_from_slice(args);
        let out = self.ward(&all);
        let key = out.lines().last().unwrap().to_string();
        // Wait until the running gateway has reloaded its key table.
        assert!(
            eventually(|| self.get("/v1/models", Some(&key)).status != 401),
            "new key never accepted"
        );
        key
    }

    pub fn post(&self, path: &str, key: Option<&str>, body: &str) -> Reply {
        request(self.addr, "POST", path, key, body)
    }

    pub fn get(&self, path: &str, key: Option<&str>) -> Reply {
        request(self.addr, "GET", path, key, "")
    }

    pub fn get_admin(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, Some(&self.admin_secret), "")
    }

    pub fn open_stream(&self, path: &str, key: &str, body: &str) -> StreamConn {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write_request(&mut s, "POST", path, Some(key), body);
        StreamConn { s, raw: Vec::new() }
    }

    pub fn signal_term(&self) {
        let pid = self.child.lock().unwrap().as_ref().unwrap().id();
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn wait_exit(&self) -> ExitStatus {
        let mut guard = self.child.lock().unwrap();
        let child = guard.as_mut().unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                guard.take();
                return status;
            }
            assert!(Instant::now() < end, "gateway did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the gateway gracefully and returns everything it logged.
    pub fn stop(&self) -> String {
        self.signal_term();
        let status = self.wait_exit();
        assert!(status.success(), "gateway exit: {status:?}");
        // Give the reader thread a moment to drain the pipe after exit.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(mut g) = self.child.lock()
            && let Some(mut c) = g.take()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Verifies the audit log with its public key and returns the entries, leaving out the
/// `GET /v1/models` polls that `create_key` makes while waiting for the key table reload.
pub fn verify_audit(path: &Path) -> Vec<Value> {
    let public = std::fs::read_to_string(ward_ledger::public_key_path(path)).unwrap();
    let options = ward_ledger::VerifyOptions {
        public_key: ward_ledger::NoteVerifier::parse(public.trim()).unwrap(),
        external_checkpoints: Vec::new(),
    };
    let report = ward_ledger::verify(path, &options).unwrap();
    assert_eq!(report.outcome, ward_ledger::Outcome::Intact);
    assert_eq!(
        report.covered, report.size,
        "the final checkpoint covers every entry"
    );
    let ledger = ward_ledger::Ledger::open(path).unwrap();
    ledger
        .leaves(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|(_, bytes)| {
            let leaf: Value = serde_json::from_slice(&bytes).unwrap();
            leaf["entry"].clone()
        })
        .filter(|e| e["endpoint"] != "models")
        .collect()
}

// ---------------------------------------------------------------------------------------
// HTTP client.

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn write_request(s: &mut TcpStream, method: &str, path: &str, key: Option<&str>, body: &str) {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}\r\n{body}",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
}

pub fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write_request(&mut s, method, path, key, body);
    let mut raw = Vec::new();
    // The gateway may close early (for example on 413) while the body is still being
    // written; whatever arrived is the answer.
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(&raw[end..])
    } else {
        raw[end..].to_vec()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..p]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = p + 2;
        let stop = (start + size).min(data.len());
        out.extend_from_slice(&data[start..stop]);
        data = &data[(stop + 2).min(data.len())..];
    }
    out
}

/// A streaming response read incrementally.
pub struct StreamConn {
    s: TcpStream,
    raw: Vec<u8>,
}

impl StreamConn {
    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.raw).to_string()
    }

    pub fn read_until(&mut self, marker: &str) {
        let mut buf = [0u8; 4096];
        while !self.seen().contains(marker) {
            let n = self.s.read(&mut buf).unwrap();
            assert!(n > 0, "stream ended before `{marker}`: {}", self.seen());
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    pub fn read_to_end(mut self) -> String {
        let _ = self.s.read_to_end(&mut self.raw);
        parse_response(&self.raw).text()
    }
}
