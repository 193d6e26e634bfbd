//! Docker's progress messages for pull and push (`{"status","id",
//! "progressDetail","progress"}`, `{"aux":...}`), sent to whoever streams
//! them to the client; a client that left does not stop the work.

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone)]
pub struct Progress {
    tx: Option<UnboundedSender<Value>>,
}

impl Progress {
    pub fn new(tx: UnboundedSender<Value>) -> Progress {
        Progress { tx: Some(tx) }
    }

    /// Progress nobody reads (a pull for `build FROM`).
    pub fn discard() -> Progress {
        Progress { tx: None }
    }

    fn send(&self, v: Value) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(v);
        }
    }

    /// A line without a layer: `Digest: ...`, `Status: ...`.
    pub fn status(&self, text: &str) {
        self.send(json!({ "status": text }));
    }

    /// A layer's (or a tag's) status: `Pulling fs layer`, `Pushed`, ...
    pub fn layer(&self, id: &str, text: &str) {
        self.send(json!({ "status": text, "progressDetail": {}, "id": id }));
    }

    /// `Downloading` / `Pushing` with bytes done of total.
    pub fn bytes(&self, id: &str, text: &str, current: u64, total: u64) {
        self.send(json!({
            "status": text,
            "progressDetail": { "current": current, "total": total },
            "progress": bar(current, total),
            "id": id,
        }));
    }

    pub fn aux(&self, v: Value) {
        self.send(json!({ "progressDetail": {}, "aux": v }));
    }
}

/// Docker's `[=====>     ]  1.2MB/3.4MB`.
fn bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    let filled = (current.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
    let mut s = String::from("[");
    if filled > 0 {
        s.push_str(&"=".repeat(filled - 1));
        s.push('>');
    }
    s.push_str(&" ".repeat(WIDTH as usize - filled));
    s.push(']');
    format!(
        "{s} {}/{}",
        whale_formats::humanize::human_size(current),
        whale_formats::humanize::human_size(total)
    )
}
