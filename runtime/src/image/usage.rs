//! What images cost and where they came from: `docker history` rows and
//! `docker system df`'s per-image sizes and sharing, computed from the
//! store. The builder's parent links are the caller's to give (image/ does
//! not reach up into build/).

use super::{Image, ImageError, Store};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// RFC 3339 as unix seconds (0 when absent or unreadable).
pub fn secs(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// One row of `docker history`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Option<Vec<String>>,
    pub size: i64,
    pub comment: String,
}

/// Docker's history: newest first; the newest entry carries the image's
/// id, each older one its parent's (as far as `parent_of` knows them), the
/// rest `<missing>`.
pub fn history_of(
    store: &Store,
    img: &Image,
    parent_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<HistoryItem> {
    let layer_size = |d: &String| store.layer(d).map(|l| l.size as i64).unwrap_or(0);
    let mut items = Vec::new();
    let mut layer = 0;
    for h in &img.config.history {
        let size = if h.empty_layer {
            0
        } else {
            let s = img
                .config
                .rootfs
                .diff_ids
                .get(layer)
                .map(layer_size)
                .unwrap_or(0);
            layer += 1;
            s
        };
        items.push(HistoryItem {
            id: "<missing>".into(),
            created: secs(h.created.as_deref()),
            created_by: h.created_by.clone().unwrap_or_default(),
            tags: None,
            size,
            comment: h.comment.clone().unwrap_or_default(),
        });
    }
    // Images without history entries (hand-made configs) still have layers.
    if items.is_empty() {
        for d in &img.config.rootfs.diff_ids {
            items.push(HistoryItem {
                id: "<missing>".into(),
                created: img.created,
                created_by: String::new(),
                tags: None,
                size: layer_size(d),
                comment: String::new(),
            });
        }
    }
    items.reverse();
    let mut cur = Some(img.clone());
    for item in items.iter_mut() {
        let Some(i) = cur.take() else { break };
        item.id = i.id.clone();
        item.tags = (!i.repo_tags.is_empty()).then(|| i.repo_tags.clone());
        cur = parent_of(&i.id).and_then(|p| store.resolve(&p).ok());
    }
    items
}

/// Per image: total size, the part shared with other images (layers by
/// chain, as Docker counts them), and how many containers use it.
#[derive(Debug, Clone, PartialEq)]
pub struct DfImage {
    pub image: Image,
    pub size: i64,
    pub shared: i64,
    pub containers: i64,
}

/// Top-level images (tagged, or with no child per `has_children`) and
/// their sharing; `container_images` are the image ids containers use.
pub fn df_images(
    store: &Store,
    container_images: &[String],
    has_children: &dyn Fn(&str) -> bool,
) -> Result<Vec<DfImage>, ImageError> {
    let heads: Vec<Image> = store
        .list()?
        .into_iter()
        .filter(|i| !i.repo_tags.is_empty() || !has_children(&i.id))
        .collect();
    // A chain key names a layer at its position (Docker's ChainID).
    let chain_keys = |img: &Image| -> Vec<(String, i64)> {
        let mut out = Vec::new();
        let mut key = String::new();
        for d in &img.config.rootfs.diff_ids {
            key.push_str(d);
            key.push('|');
            let size = store.layer(d).map(|l| l.size as i64).unwrap_or(0);
            out.push((key.clone(), size));
        }
        out
    };
    let mut refs: HashMap<String, usize> = HashMap::new();
    for img in &heads {
        for (k, _) in chain_keys(img) {
            *refs.entry(k).or_default() += 1;
        }
    }
    Ok(heads
        .iter()
        .map(|img| {
            let keys = chain_keys(img);
            let size: i64 = keys.iter().map(|(_, s)| s).sum();
            let shared: i64 = keys
                .iter()
                .filter(|(k, _)| refs.get(k).copied().unwrap_or(0) > 1)
                .map(|(_, s)| s)
                .sum();
            DfImage {
                image: img.clone(),
                size,
                shared,
                containers: container_images.iter().filter(|c| **c == img.id).count() as i64,
            }
        })
        .collect())
}

/// Bytes of the distinct layers of `images`.
pub fn layers_size(store: &Store, images: &[DfImage]) -> i64 {
    let mut total = 0;
    let mut seen = HashSet::new();
    for i in images {
        for diff in &i.image.config.rootfs.diff_ids {
            if seen.insert(diff.clone()) {
                total += store.layer(diff).map(|l| l.size as i64).unwrap_or(0);
            }
        }
    }
    total
}

/// Bytes of regular files under `p` (hard links once), not following symlinks.
pub fn dir_size(p: &Path) -> i64 {
    fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>) -> i64 {
        let Ok(rd) = fs::read_dir(p) else { return 0 };
        let mut total = 0;
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                total += walk(&e.path(), seen);
            } else if m.is_file() && seen.insert((m.dev(), m.ino())) {
                total += m.len() as i64;
            }
        }
        total
    }
    walk(p, &mut HashSet::new())
}
