//! A minimal HTTP/1.1 client over a plain TcpStream, for the admin API tests: one
//! request per connection, `Connection: close`. Enough for JSON requests and answers
//! without building an HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status code and body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body as JSON.
    pub json: serde_json::Value,
    /// The body as text.
    pub text: String,
}

impl Response {
    /// The `error` field of a refusal.
    pub fn error(&self) -> String {
        self.json["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends one request. `token` becomes `Authorization: Bearer TOKEN`.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str(&format!("Content-Type: application/wasm\r\nContent-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).expect("send head");
    // The server may answer (e.g. 401, 413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

/// GET without a token.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None, b"")
}

/// POST with a token.
pub fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    request(addr, "POST", path, token, body)
}

fn parse(raw: &[u8]) -> Response {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Response { status, json, text }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
}

/// The token the admin test servers use.
pub const TOKEN: &str = "test-token-5f1c";

/// A registry in `dir` and an admin server over it on a free loopback port, with
/// [`TOKEN`] and the given upload limit.
pub fn serve(
    dir: &std::path::Path,
    max_upload_mib: u64,
) -> (std::sync::Arc<pricing_runtime::registry::Registry>, pricing_runtime::admin::AdminHandle) {
    use pricing_runtime::admin::{AdminConfig, serve};
    use pricing_runtime::registry::Registry;
    let registry = std::sync::Arc::new(
        Registry::open(dir, std::sync::Arc::new(super::host()))
            .expect("registry opens")
            .with_max_upload_bytes(usize::try_from(max_upload_mib << 20).expect("fits")),
    );
    let config = AdminConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: Some(TOKEN.into()),
        max_upload_mib,
        ..AdminConfig::default()
    };
    let handle = serve(&config, std::sync::Arc::clone(&registry)).expect("admin API starts");
    (registry, handle)
}

/// The active hash of `kind` in a `GET /plugins` answer.
pub fn active_hash(listing: &serde_json::Value, kind: &str) -> String {
    listing["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == kind)
        .and_then(|k| k["active"].as_str())
        .unwrap_or_else(|| panic!("no active {kind} in {listing}"))
        .to_owned()
}
