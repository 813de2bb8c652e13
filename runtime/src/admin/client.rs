//! A small client of the admin API, for `pricing admin ...` and the tests: HTTP/1.1 over
//! a plain TCP connection, one request per connection (`Connection: close`). The API
//! listens on loopback (or behind a proxy that terminates TLS), so plain HTTP to a
//! `host:port` is all it needs, and the binary carries no HTTP client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://HOST:PORT`.
    #[error("admin URL {0:?} is not http://HOST:PORT")]
    BadUrl(String),
    /// No connection, or it broke.
    #[error("admin API at {addr}")]
    Io {
        /// Where.
        addr: String,
        /// What happened.
        source: std::io::Error,
    },
    /// The answer is not HTTP.
    #[error("admin API at {0}: the answer is not an HTTP response")]
    NotHttp(String),
}

/// An answer: its status, and its body as text and as JSON (`Null` when not JSON).
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
    #[must_use]
    pub fn error(&self) -> String {
        self.json["error"].as_str().unwrap_or_default().to_owned()
    }

    /// Whether the status is 2xx.
    #[must_use]
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A client of one admin API.
#[derive(Clone, Debug)]
pub struct Client {
    addr: SocketAddr,
    token: Option<String>,
    timeout: Duration,
}

impl Client {
    /// A client of the API at `addr`, sending `token` (if any) as the bearer token.
    #[must_use]
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        // Deploys validate (compile) before answering: give them time.
        Client { addr, token, timeout: Duration::from_secs(300) }
    }

    /// A client of the API at `url` (`http://HOST:PORT`, a trailing `/` allowed).
    pub fn from_url(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let bad = || ClientError::BadUrl(url.to_owned());
        let host = url.strip_prefix("http://").ok_or_else(bad)?.trim_end_matches('/');
        let addr = host
            .to_socket_addrs()
            .map_err(|source| ClientError::Io { addr: host.to_owned(), source })?
            .next()
            .ok_or_else(bad)?;
        Ok(Client::new(addr, token))
    }

    /// The API's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.request("GET", path, b"")
    }

    /// `POST path` with `body` (a component, or empty).
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Response, ClientError> {
        self.request("POST", path, body)
    }

    /// Sends one request and reads the whole answer.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<Response, ClientError> {
        let io = |source| ClientError::Io { addr: self.addr.to_string(), source };
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10)).map_err(io)?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str(&format!("Content-Type: application/wasm\r\nContent-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).map_err(io)?;
        // The server may answer (401, 413) and close before reading a large body: the
        // answer says why, so a failed write is not the error to report.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        if let Err(e) = stream.read_to_end(&mut raw)
            && raw.is_empty()
        {
            return Err(io(e));
        }
        parse(&raw).ok_or_else(|| ClientError::NotHttp(self.addr.to_string()))
    }
}

fn parse(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok())?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Some(Response { status, json, text })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = parse(b"HTTP/1.1 201 Created\r\ncontent-length: 9\r\n\r\n{\"a\":1}\r\n").expect("parses");
        assert_eq!((plain.status, plain.json["a"].as_i64()), (201, Some(1)));
        let chunked =
            parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"b\"\r\n3\r\n:2}\r\n0\r\n\r\n")
                .expect("parses");
        assert_eq!(chunked.json["b"].as_i64(), Some(2));
        assert!(parse(b"garbage").is_none());
    }

    #[test]
    fn urls_must_be_plain_http_with_a_port() {
        assert_eq!(Client::from_url("http://127.0.0.1:8080/", None).expect("ok").addr().port(), 8080);
        assert!(matches!(Client::from_url("https://127.0.0.1:8080", None), Err(ClientError::BadUrl(_))));
        assert!(Client::from_url("http://127.0.0.1", None).is_err());
    }
}
