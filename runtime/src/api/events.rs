//! `/events`: Docker's event stream, fed by a broadcast channel, with a short
//! in-memory history for `since`.

use super::http::{ApiError, ApiResult, Body, Filters, Query};
use bytes::Bytes;
use hyper::StatusCode;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Docker keeps the last 256 events for `since`.
const HISTORY: usize = 256;

/// Docker's EventMessage, with the legacy `status`/`id`/`from` fields that
/// older clients (and `docker events` templates) still read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    pub fn new(typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = chrono::Utc::now();
        let time_nano = now.timestamp_nanos_opt().unwrap_or(0);
        let container = typ == "container";
        // Docker fills the deprecated fields for container and image events only.
        let legacy = container || typ == "image";
        Event {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from: if container {
                attributes.get("image").cloned()
            } else {
                None
            },
            typ: typ.to_string(),
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: time_nano / 1_000_000_000,
            time_nano,
        }
    }

    fn matches(&self, f: &Filters) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| match f.get(key) {
            None => true,
            Some(vals) => vals.iter().any(|v| pred(v)),
        };
        let attr = |k: &str| self.actor.attributes.get(k).map(String::as_str);
        any("type", &|v| v == self.typ)
            && any("event", &|v| {
                // "exec_start" style actions carry a suffix after ':'.
                v == self.action || self.action.split(':').next() == Some(v)
            })
            && any("container", &|v| {
                self.typ == "container"
                    && (self.actor.id == v
                        || self.actor.id.starts_with(v)
                        || attr("name") == Some(v.trim_start_matches('/')))
            })
            && any("image", &|v| {
                if self.typ == "image" {
                    self.actor.id == v || attr("name") == Some(v)
                } else {
                    attr("image") == Some(v)
                }
            })
            && any("label", &|v| match v.split_once('=') {
                Some((k, val)) => attr(k) == Some(val),
                None => attr(v).is_some(),
            })
    }
}

pub struct Events {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(HISTORY).0,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }
}

impl Events {
    pub fn emit(&self, event: Event) {
        // History and broadcast change together so a subscriber taking both
        // under this lock sees every event exactly once.
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(event.clone());
        let _ = self.tx.send(event);
    }

    fn subscribe(&self, since_nanos: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let past = match since_nanos {
            Some(since) => h.iter().filter(|e| e.time_nano >= since).cloned().collect(),
            None => Vec::new(),
        };
        (past, self.tx.subscribe())
    }
}

/// Docker's timestamps for `since`/`until` and the `until` filter: unix
/// seconds with an optional fraction, RFC 3339, or a Go duration back from
/// now (`24h`, as `docker image prune --filter until=24h` sends it).
pub fn parse_timestamp(s: &str) -> Result<i64, ApiError> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    whale_formats::timestamp::parse_timestamp(s, now).map_err(ApiError::bad_request)
}

pub fn handle(events: &Events, q: &Query) -> ApiResult {
    let filters = q.filters()?;
    filters.only(&["type", "event", "container", "image", "label"])?;
    let since = q
        .get("since")
        .filter(|s| !s.is_empty())
        .map(parse_timestamp)
        .transpose()?;
    let until = q
        .get("until")
        .filter(|s| !s.is_empty())
        .map(parse_timestamp)
        .transpose()?;
    // As moby: with `until` alone, the buffered events up to it are replayed too.
    let (past, mut rx) = events.subscribe(since.or(until.map(|_| 0)));
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let send = |e: &Event| {
            let mut line = serde_json::to_vec(e).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        for e in past.iter().filter(|e| e.matches(&filters)) {
            if until.is_some_and(|u| e.time_nano > u) {
                return;
            }
            if tx.send(send(e)).await.is_err() {
                return;
            }
        }
        let deadline = until.map(|u| {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            tokio::time::Instant::now()
                + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
        });
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                    None => Some(rx.recv().await),
                }
            };
            tokio::select! {
                r = next => match r {
                    None => return,
                    Some(Ok(e)) => {
                        if e.matches(&filters) && tx.send(send(&e)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Some(Err(broadcast::error::RecvError::Closed)) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let mut r = super::http::response(StatusCode::OK, "application/json", body);
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event::new(
            typ,
            action,
            id,
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn event_json_has_docker_fields() {
        let e = ev(
            "container",
            "die",
            "abc",
            &[("image", "busybox"), ("exitCode", "3")],
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["status"], "die");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert!(v["timeNano"].as_i64().unwrap() / 1_000_000_000 == v["time"].as_i64().unwrap());
    }

    #[test]
    fn filters_select_events() {
        let e = ev(
            "container",
            "start",
            "abcdef",
            &[("image", "busybox"), ("name", "web")],
        );
        let f = |s: &str| Filters::parse(s).unwrap();
        assert!(e.matches(&f("")));
        assert!(e.matches(&f(r#"{"type":["container"],"event":["start","die"]}"#)));
        assert!(!e.matches(&f(r#"{"event":["die"]}"#)));
        assert!(e.matches(&f(r#"{"container":["web"]}"#)));
        assert!(e.matches(&f(r#"{"container":["abc"]}"#)));
        assert!(!e.matches(&f(r#"{"container":["other"]}"#)));
        assert!(e.matches(&f(r#"{"image":["busybox"]}"#)));
        assert!(!e.matches(&f(r#"{"type":["image"]}"#)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("10").unwrap(), 10_000_000_000);
        assert_eq!(parse_timestamp("10.5").unwrap(), 10_500_000_000);
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01Z").unwrap(),
            1_000_000_000
        );
        assert!(parse_timestamp("soon").is_err());
    }

    #[test]
    fn history_replays_since() {
        let events = Events::default();
        events.emit(ev("image", "tag", "sha256:1", &[]));
        let (past, _rx) = events.subscribe(Some(0));
        assert_eq!(past.len(), 1);
        let (past, _rx) = events.subscribe(None);
        assert!(past.is_empty());
    }
}
