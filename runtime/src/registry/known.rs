//! Which registry blob holds which layer: `(registry, repository, digest,
//! size)` by diff_id, learnt from every pull and push (Docker's "v2
//! metadata"). A push asks the registry for these digests before it
//! compresses anything, and mounts a blob from a sibling repository instead
//! of uploading it again. A hint, never trusted: every use is checked with
//! the registry.

use crate::fsutil::write_json_atomic;
use crate::image::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub registry: String,
    pub repository: String,
    pub digest: String,
    pub size: u64,
}

/// One writer at a time within the daemon (the file is the daemon's alone).
static WRITE: Mutex<()> = Mutex::new(());

/// Entries per layer kept (the newest).
const KEEP: usize = 16;

fn path(store: &Store) -> std::path::PathBuf {
    store.root().join("distribution.json")
}

fn read(store: &Store) -> BTreeMap<String, Vec<Seen>> {
    std::fs::read(path(store))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// What is known of `diff_id`, newest first.
pub fn lookup(store: &Store, diff_id: &str) -> Vec<Seen> {
    read(store).remove(diff_id).unwrap_or_default()
}

/// Remember these `(diff_id, seen)` pairs; a failure to write only loses hints.
pub fn remember(store: &Store, pairs: &[(String, Seen)]) {
    let _g = WRITE.lock().unwrap_or_else(|p| p.into_inner());
    let mut all = read(store);
    for (diff_id, seen) in pairs {
        let v = all.entry(diff_id.clone()).or_default();
        v.retain(|s| {
            s != seen && !(s.registry == seen.registry && s.repository == seen.repository)
        });
        v.insert(0, seen.clone());
        v.truncate(KEEP);
    }
    let _ = write_json_atomic(&path(store), &all);
}
