//! HTTP plumbing: the response body type, the error type (Docker's
//! `{"message": ...}`), query parsing and routing.

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::{header, Method, Response, StatusCode};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// The API version whale speaks, and the oldest it accepts.
pub const API_VERSION: &str = "1.43";
pub const MIN_API_VERSION: &str = "1.24";

/// A response body: a whole buffer, or a stream fed through a channel so
/// handlers can send headers at once and the rest later (`/wait`, `/events`).
pub enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(None)
    }
    pub fn full(b: impl Into<Bytes>) -> Body {
        Body::Full(Some(b.into()))
    }
    /// A streaming body and the sender that feeds it; dropping the sender ends it.
    pub fn channel() -> (mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = mpsc::channel(64);
        (tx, Body::Stream(rx))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// An API error: the status code and Docker's `{"message": ...}` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, m)
    }
    pub fn internal(m: impl Into<String>) -> ApiError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({ "message": self.message }).to_string() + "\n";
        response(self.status, "application/json", Body::full(body))
    }
}

impl From<crate::container::ContainerError> for ApiError {
    fn from(e: crate::container::ContainerError) -> ApiError {
        use crate::container::ContainerError as E;
        let status = match &e {
            E::NotFound(_) | E::NoSuchNetwork(_) | E::NoSuchImage(_) => StatusCode::NOT_FOUND,
            E::Ambiguous(_) | E::InvalidName(_) | E::Invalid(_) | E::InvalidSignal(_) => {
                StatusCode::BAD_REQUEST
            }
            E::NameInUse { .. }
            | E::RenameConflict(_)
            | E::PausedExec(_)
            | E::AlreadyPaused(_)
            | E::NotRunning(_)
            | E::JoinNotRunning(_)
            | E::AlreadyRunning(_)
            | E::MarkedForRemoval(_)
            | E::RemovalInProgress(_)
            | E::RemoveRunning(_)
            | E::RemoveRestarting(_) => StatusCode::CONFLICT,
            E::Image(e) => {
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            // The docker CLI turns these into 126/127 by matching the
            // message; Docker answers them with 400, other failures with 500.
            E::StartFailed(f) if matches!(f.exit_code, 126 | 127) => StatusCode::BAD_REQUEST,
            // Docker answers an unpause of a container that is not paused
            // with a 500 (its runtime's error), not a conflict.
            E::StartFailed(_)
            | E::NotPaused(_)
            | E::ShimDied(_)
            | E::NoSpace { .. }
            | E::Shim { .. }
            | E::KillTimeout { .. }
            | E::Internal(_)
            | E::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

pub type ApiResult = Result<Response<Body>, ApiError>;

pub fn response(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> ApiResult {
    let mut body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("encoding the response: {e}")))?;
    body.push(b'\n');
    Ok(response(status, "application/json", Body::full(body)))
}

pub fn no_content(status: StatusCode) -> ApiResult {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    Ok(r)
}

/// Query parameters, percent-decoded.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let pairs = q
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }
    /// The first value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of a repeated key (`changes=...&changes=...`).
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// Docker's `BoolValue`: present and not one of "", "0", "no", "false", "none".
    pub fn bool(&self, k: &str) -> bool {
        match self.get(k) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }
    /// Like [`Query::bool`], with a default when the key is absent.
    pub fn bool_or(&self, k: &str, default: bool) -> bool {
        if self.get(k).is_none() {
            default
        } else {
            self.bool(k)
        }
    }
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {k}: {v:?} is not an integer"))
            }),
        }
    }
    /// Docker's `filters` parameter, in either the current
    /// (`{"status":["running"]}`) or the legacy (`{"status":{"running":true}}`) form.
    pub fn filters(&self) -> Result<Filters, ApiError> {
        Filters::parse(self.get("filters").unwrap_or(""))
    }
}

/// Parsed `filters`: key -> accepted values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters(pub HashMap<String, Vec<String>>);

impl Filters {
    pub fn parse(s: &str) -> Result<Filters, ApiError> {
        if s.trim().is_empty() {
            return Ok(Filters::default());
        }
        let v: serde_json::Value = serde_json::from_str(s)
            .map_err(|e| ApiError::bad_request(format!("invalid filters {s:?}: {e}")))?;
        let obj = v.as_object().ok_or_else(|| {
            ApiError::bad_request(format!("invalid filters {s:?}: not a JSON object"))
        })?;
        let mut out = HashMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                serde_json::Value::String(x) => vec![x.clone()],
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filters {s:?}: the value of {k:?} must be a list of strings"
                    )))
                }
            };
            out.insert(k.clone(), list);
        }
        Ok(Filters(out))
    }

    pub fn get(&self, k: &str) -> Option<&[String]> {
        self.0.get(k).map(Vec::as_slice).filter(|v| !v.is_empty())
    }

    /// Reject keys the handler does not know, as Docker does.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for k in self.0.keys() {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
            }
        }
        Ok(())
    }
}

/// Percent-decoding for query strings (`+` is a space there).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hexval(b[i + 1]), hexval(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Every endpoint the daemon serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ping,
    Version,
    Info,
    Events,
    ContainerList,
    ContainerPrune,
    ContainerCreate,
    ContainerInspect(String),
    ContainerStart(String),
    ContainerStop(String),
    ContainerKill(String),
    ContainerWait(String),
    ContainerAttach(String),
    ContainerLogs(String),
    ContainerTop(String),
    ContainerStats(String),
    ContainerChanges(String),
    ContainerResize(String),
    ContainerRestart(String),
    ContainerPause(String),
    ContainerUnpause(String),
    ContainerRename(String),
    ContainerUpdate(String),
    ContainerDelete(String),
    /// `GET /containers/{id}/attach/ws`: refused, naming what to use.
    ContainerAttachWs(String),
    ExecCreate(String),
    ExecStart(String),
    ExecResize(String),
    ExecInspect(String),
    ImageList,
    ImageCreate,
    ImageInspect(String),
    ImageHistory(String),
    ImageTag(String),
    ImageDelete(String),
    // Builder room (api/build.rs, api/images_io.rs).
    Build,
    ImageGet(Option<String>),
    ImageLoad,
    SystemDf,
    ContainerExport(String),
    ContainerArchive(String),
    ContainerArchivePut(String),
    // The verbs of issue 12 (api/commit.rs, api/prune.rs, api/networks.rs).
    Commit,
    ImagePrune,
    BuildPrune,
    NetworkList,
    NetworkInspect(String),
    NetworkPrune,
    /// create, remove, connect, disconnect: refused (whale makes no networks).
    NetworkChange(&'static str),
    // Volumes (api/volumes.rs).
    VolumeList,
    VolumeCreate,
    VolumePrune,
    VolumeInspect(String),
    VolumeDelete(String),
    // Registries (api/registry.rs).
    ImagePush(String),
    Distribution(String),
    Auth,
}

/// Strip an optional `/v1.NN` prefix.
fn strip_version(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let ver = &rest[..end];
        let is_version = ver
            .split_once('.')
            .map(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
            .unwrap_or(false);
        if is_version {
            return &rest[end..];
        }
    }
    path
}

/// Map a method and path to a route; `None` is Docker's "page not found".
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let path = strip_version(path);
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    match path {
        "/_ping" if get || *method == Method::HEAD => return Some(Route::Ping),
        "/version" if get => return Some(Route::Version),
        "/info" if get => return Some(Route::Info),
        "/events" if get => return Some(Route::Events),
        "/containers/json" if get => return Some(Route::ContainerList),
        "/containers/create" if post => return Some(Route::ContainerCreate),
        "/containers/prune" if post => return Some(Route::ContainerPrune),
        "/images/json" if get => return Some(Route::ImageList),
        "/images/create" if post => return Some(Route::ImageCreate),
        "/build" if post => return Some(Route::Build),
        "/images/get" if get => return Some(Route::ImageGet(None)),
        "/images/load" if post => return Some(Route::ImageLoad),
        "/system/df" if get => return Some(Route::SystemDf),
        "/commit" if post => return Some(Route::Commit),
        "/images/prune" if post => return Some(Route::ImagePrune),
        "/build/prune" if post => return Some(Route::BuildPrune),
        "/networks" if get => return Some(Route::NetworkList),
        "/networks/create" if post => return Some(Route::NetworkChange("create")),
        "/networks/prune" if post => return Some(Route::NetworkPrune),
        "/volumes" if get => return Some(Route::VolumeList),
        "/volumes/create" if post => return Some(Route::VolumeCreate),
        "/volumes/prune" if post => return Some(Route::VolumePrune),
        "/auth" if post => return Some(Route::Auth),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/containers/") {
        let rest = decode(rest);
        let (id, action) = match rest.split_once('/') {
            Some((id, action)) => (id.to_string(), Some(action.to_string())),
            None => (rest, None),
        };
        if id.is_empty() {
            return None;
        }
        return match (action.as_deref(), get, post, delete) {
            (None, _, _, true) => Some(Route::ContainerDelete(id)),
            // `DELETE /containers/SELF/ALIAS?link=1` removes a link.
            (Some(alias), _, _, true) if !alias.contains('/') => {
                Some(Route::ContainerDelete(format!("{id}/{alias}")))
            }
            (Some("json"), true, _, _) => Some(Route::ContainerInspect(id)),
            (Some("logs"), true, _, _) => Some(Route::ContainerLogs(id)),
            (Some("top"), true, _, _) => Some(Route::ContainerTop(id)),
            (Some("stats"), true, _, _) => Some(Route::ContainerStats(id)),
            (Some("changes"), true, _, _) => Some(Route::ContainerChanges(id)),
            (Some("start"), _, true, _) => Some(Route::ContainerStart(id)),
            (Some("stop"), _, true, _) => Some(Route::ContainerStop(id)),
            (Some("kill"), _, true, _) => Some(Route::ContainerKill(id)),
            (Some("wait"), _, true, _) => Some(Route::ContainerWait(id)),
            (Some("attach"), _, true, _) => Some(Route::ContainerAttach(id)),
            (Some("attach/ws"), true, _, _) => Some(Route::ContainerAttachWs(id)),
            (Some("resize"), _, true, _) => Some(Route::ContainerResize(id)),
            (Some("restart"), _, true, _) => Some(Route::ContainerRestart(id)),
            (Some("pause"), _, true, _) => Some(Route::ContainerPause(id)),
            (Some("unpause"), _, true, _) => Some(Route::ContainerUnpause(id)),
            (Some("rename"), _, true, _) => Some(Route::ContainerRename(id)),
            (Some("update"), _, true, _) => Some(Route::ContainerUpdate(id)),
            (Some("exec"), _, true, _) => Some(Route::ExecCreate(id)),
            (Some("export"), true, _, _) => Some(Route::ContainerExport(id)),
            (Some("archive"), _, _, _) if get || *method == Method::HEAD => {
                Some(Route::ContainerArchive(id))
            }
            (Some("archive"), _, _, _) if *method == Method::PUT => {
                Some(Route::ContainerArchivePut(id))
            }
            _ => None,
        };
    }
    if let Some((id, action)) = path.strip_prefix("/exec/").and_then(|r| r.split_once('/')) {
        let id = decode(id);
        return match (action, get, post) {
            ("start", _, true) => Some(Route::ExecStart(id)),
            ("resize", _, true) => Some(Route::ExecResize(id)),
            ("json", true, _) => Some(Route::ExecInspect(id)),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix("/networks/") {
        let rest = decode(rest);
        return match rest.split_once('/') {
            None if get && !rest.is_empty() => Some(Route::NetworkInspect(rest)),
            None if delete && !rest.is_empty() => Some(Route::NetworkChange("remove")),
            Some((_, "connect")) if post => Some(Route::NetworkChange("connect")),
            Some((_, "disconnect")) if post => Some(Route::NetworkChange("disconnect")),
            _ => None,
        };
    }
    if let Some(name) = path.strip_prefix("/volumes/").filter(|n| !n.contains('/')) {
        let name = decode(name);
        if get {
            return Some(Route::VolumeInspect(name));
        }
        if delete {
            return Some(Route::VolumeDelete(name));
        }
    }
    if let Some(rest) = path.strip_prefix("/distribution/") {
        let rest = decode(rest);
        if let Some(name) = rest.strip_suffix("/json").filter(|n| !n.is_empty()) {
            if get {
                return Some(Route::Distribution(name.to_string()));
            }
        }
    }
    if let Some(rest) = path.strip_prefix("/images/") {
        // Image names contain slashes (`library/busybox`): the action is the
        // last segment, as Docker's `{name:.*}` routes.
        let rest = decode(rest);
        if get {
            if let Some(name) = rest.strip_suffix("/json").filter(|n| !n.is_empty()) {
                return Some(Route::ImageInspect(name.to_string()));
            }
            if let Some(name) = rest.strip_suffix("/history").filter(|n| !n.is_empty()) {
                return Some(Route::ImageHistory(name.to_string()));
            }
            if let Some(name) = rest.strip_suffix("/get").filter(|n| !n.is_empty()) {
                return Some(Route::ImageGet(Some(name.to_string())));
            }
        }
        if post {
            if let Some(name) = rest.strip_suffix("/tag").filter(|n| !n.is_empty()) {
                return Some(Route::ImageTag(name.to_string()));
            }
            if let Some(name) = rest.strip_suffix("/push").filter(|n| !n.is_empty()) {
                return Some(Route::ImagePush(name.to_string()));
            }
        }
        if delete && !rest.is_empty() {
            return Some(Route::ImageDelete(rest));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_version_prefix() {
        for prefix in ["", "/v1.41", "/v1.43"] {
            let p = |s: &str| format!("{prefix}{s}");
            assert_eq!(route(&Method::GET, &p("/_ping")), Some(Route::Ping));
            assert_eq!(route(&Method::HEAD, &p("/_ping")), Some(Route::Ping));
            assert_eq!(route(&Method::GET, &p("/version")), Some(Route::Version));
            assert_eq!(
                route(&Method::GET, &p("/containers/json")),
                Some(Route::ContainerList)
            );
            assert_eq!(
                route(&Method::POST, &p("/containers/create")),
                Some(Route::ContainerCreate)
            );
            assert_eq!(
                route(&Method::POST, &p("/containers/abc/start")),
                Some(Route::ContainerStart("abc".into()))
            );
            assert_eq!(
                route(&Method::POST, &p("/containers/abc/restart")),
                Some(Route::ContainerRestart("abc".into()))
            );
            assert_eq!(
                route(&Method::DELETE, &p("/containers/abc")),
                Some(Route::ContainerDelete("abc".into()))
            );
            assert_eq!(
                route(&Method::GET, &p("/containers/abc/json")),
                Some(Route::ContainerInspect("abc".into()))
            );
            assert_eq!(
                route(&Method::GET, &p("/images/library/busybox:latest/json")),
                Some(Route::ImageInspect("library/busybox:latest".into()))
            );
            assert_eq!(
                route(&Method::DELETE, &p("/images/busybox")),
                Some(Route::ImageDelete("busybox".into()))
            );
            assert_eq!(
                route(&Method::POST, &p("/images/busybox/tag")),
                Some(Route::ImageTag("busybox".into()))
            );
            assert_eq!(
                route(&Method::POST, &p("/images/127.0.0.1:5000/bb/push")),
                Some(Route::ImagePush("127.0.0.1:5000/bb".into()))
            );
            assert_eq!(
                route(&Method::GET, &p("/distribution/127.0.0.1:5000/bb:1/json")),
                Some(Route::Distribution("127.0.0.1:5000/bb:1".into()))
            );
            assert_eq!(route(&Method::POST, &p("/auth")), Some(Route::Auth));
        }
        assert_eq!(route(&Method::GET, "/containers/create"), None);
        assert_eq!(route(&Method::POST, "/containers/abc/json"), None);
        assert_eq!(route(&Method::GET, "/nope"), None);
        assert_eq!(route(&Method::GET, "/vx.y/_ping"), None);
        assert_eq!(route(&Method::GET, "/v1.41"), None);
    }

    #[test]
    fn query_bools_follow_docker() {
        let q = Query::parse(Some("a=1&b=0&c=false&d=&e=yes&f=True&g=%20no"));
        assert!(q.bool("a") && q.bool("e") && q.bool("f"));
        assert!(!q.bool("b") && !q.bool("c") && !q.bool("d") && !q.bool("g") && !q.bool("zz"));
        assert!(q.bool_or("zz", true));
        assert_eq!(q.int("a").unwrap(), Some(1));
        assert!(q.int("e").is_err());
        let q = Query::parse(Some("changes=CMD%20sh&changes=ENV+A%3D1&x=1&x=2"));
        assert_eq!(q.all("changes"), ["CMD sh", "ENV A=1"]);
        assert_eq!(q.get("x"), Some("1"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%20b+c%2Fd"), "a b c/d");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }

    #[test]
    fn filters_current_and_legacy_forms() {
        let f = Filters::parse(r#"{"status":["running","exited"],"label":{"a=b":true,"x":false}}"#)
            .unwrap();
        assert_eq!(f.get("status").unwrap(), ["running", "exited"]);
        assert_eq!(f.get("label").unwrap(), ["a=b"]);
        assert!(f.get("name").is_none());
        assert!(f.only(&["status", "label"]).is_ok());
        assert_eq!(
            f.only(&["status"]).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(Filters::parse("").unwrap().0.is_empty());
        assert!(Filters::parse("[1]").is_err());
        assert!(Filters::parse("{not json").is_err());
    }

    #[test]
    fn error_body_is_docker_json() {
        let r = ApiError::not_found("No such container: x").into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let Body::Full(Some(b)) = r.into_body() else {
            panic!("expected a full body")
        };
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v, serde_json::json!({"message": "No such container: x"}));
    }
}
