//! The HTTP the registry client needs, on hyper: one request per
//! connection (a handshake costs little next to a layer), absolute URLs
//! split by hand, bodies in memory or streamed from a file; HTTPS through
//! rustls, verified against the system's CA store unless the URL says the
//! registry is an insecure one (Docker skips verification for those).

use super::RegistryError;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long connecting and each response's headers may take.
const TIMEOUT: Duration = Duration::from_secs(60);

pub type Body = BoxBody<Bytes, io::Error>;

/// `http://host:port/path?query`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// `host[:port]` as written (the Host header).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// HTTPS without certificate verification (an insecure registry).
    pub skip_verify: bool,
}

impl Url {
    pub fn parse(s: &str) -> Option<Url> {
        let (scheme, rest) = s.split_once("://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return None;
        }
        Some(Url {
            scheme: scheme.to_ascii_lowercase(),
            authority: authority.to_string(),
            path: path.to_string(),
            skip_verify: false,
        })
    }

    /// A `Location` answer: absolute, or a path on this server.
    pub fn join(&self, location: &str) -> Option<Url> {
        if location.contains("://") {
            // Absolute (the registry's upload locations are): the same
            // server keeps its TLS mode, another one is verified.
            Url::parse(location).map(|u| Url {
                skip_verify: self.skip_verify && u.authority == self.authority,
                ..u
            })
        } else if location.starts_with('/') {
            Some(Url {
                path: location.to_string(),
                ..self.clone()
            })
        } else {
            None
        }
    }

    /// `host:port` to connect to (the scheme's default port when none).
    fn socket_addr(&self) -> String {
        let has_port = match self.authority.rfind(']') {
            Some(i) => self.authority[i..].contains(':'),
            None => self.authority.contains(':'),
        };
        if has_port {
            self.authority.clone()
        } else if self.scheme == "https" {
            format!("{}:443", self.authority)
        } else {
            format!("{}:80", self.authority)
        }
    }

    /// The URL with `k=v` added to its query (`v` percent-encoded).
    pub fn with_query(&self, k: &str, v: &str) -> Url {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        Url {
            path: format!("{}{sep}{k}={}", self.path, encode(v)),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path)
    }
}

/// Percent-encode a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

/// A file as a request body, read in 1 MiB chunks; `sent` sees each one.
pub fn file_body(file: tokio::fs::File, sent: impl Fn(u64) + Send + Sync + 'static) -> Body {
    let stream = futures_util::stream::unfold(Some(file), move |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .inspect(move |r| {
        if let Ok(f) = r {
            if let Some(d) = f.data_ref() {
                sent(d.len() as u64);
            }
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

/// Send one request; the response streams (its connection lives in a task
/// until the body is read).
pub async fn send(
    method: Method,
    url: &Url,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response<Incoming>, RegistryError> {
    if url.scheme != "http" && url.scheme != "https" {
        return Err(RegistryError::Unreachable {
            registry: url.authority.clone(),
            reason: format!("{url}: only http and https URLs can be followed"),
        });
    }
    let addr = url.socket_addr();
    let unreachable = |reason: String| RegistryError::Unreachable {
        registry: url.authority.clone(),
        reason,
    };
    let stream = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| unreachable(format!("connecting to {addr} timed out")))?
        .map_err(|e| unreachable(format!("cannot connect to {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut sender = if url.scheme == "https" {
        let tls = super::tls::connect(stream, url).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(format!("HTTP handshake with {addr}: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
    } else {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(format!("HTTP handshake with {addr}: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
    };
    let mut req = Request::builder().method(method).uri(url.path.as_str());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .header(hyper::header::HOST, url.authority.as_str())
        .header(
            hyper::header::USER_AGENT,
            concat!("whale/", env!("CARGO_PKG_VERSION")),
        )
        .body(body)
        .map_err(|e| unreachable(format!("building the request for {url}: {e}")))?;
    tokio::time::timeout(TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| unreachable(format!("{url} did not answer within {TIMEOUT:?}")))?
        .map_err(|e| unreachable(format!("{url}: {e}")))
}

/// The whole body of a response, at most `max` bytes (manifests, errors, tokens).
pub async fn read_body(resp: Response<Incoming>, max: usize) -> Result<Bytes, RegistryError> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| RegistryError::Protocol(format!("reading an answer: {e}")))?;
        if let Ok(d) = frame.into_data() {
            out.extend_from_slice(&d);
            if out.len() > max {
                return Err(RegistryError::Protocol(format!(
                    "an answer was larger than {max} bytes"
                )));
            }
        }
    }
    Ok(Bytes::from(out))
}

/// The registry's own message in an error answer (`{"errors":[{"code","message"}]}`).
pub async fn error_text(resp: Response<Incoming>) -> (StatusCode, String, String) {
    let status = resp.status();
    let body = read_body(resp, 1 << 20).await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let first = v.get("errors").and_then(|e| e.get(0));
    let code = first
        .and_then(|e| e.get("code"))
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_string();
    let message = first
        .and_then(|e| e.get("message"))
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    (status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_join() {
        let u = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        assert_eq!(u.authority, "127.0.0.1:5000");
        assert_eq!(u.path, "/v2/");
        assert_eq!(u.socket_addr(), "127.0.0.1:5000");
        let j = u.join("/v2/x/blobs/uploads/abc?_state=1").unwrap();
        assert_eq!(
            j.to_string(),
            "http://127.0.0.1:5000/v2/x/blobs/uploads/abc?_state=1"
        );
        assert_eq!(
            j.with_query("digest", "sha256:ab").path,
            "/v2/x/blobs/uploads/abc?_state=1&digest=sha256%3Aab"
        );
        let h = Url::parse("https://reg.example.com").unwrap();
        assert_eq!(h.socket_addr(), "reg.example.com:443");
        assert_eq!(h.path, "/");
        assert_eq!(Url::parse("[::1]:5000/x"), None);
        let v6 = Url::parse("http://[::1]:5000/v2/").unwrap();
        assert_eq!(v6.socket_addr(), "[::1]:5000");
        assert_eq!(
            Url::parse("http://[::1]/").unwrap().socket_addr(),
            "[::1]:80"
        );
    }
}
