//! `POST /images/prune` and `POST /build/prune`, as `docker image prune`
//! and `docker system prune` call them.

use super::http::{json, ApiError, ApiResult, Filters, Query};
use super::{glue, Daemon};
use hyper::StatusCode;
use std::collections::HashSet;
use std::sync::Arc;

/// Docker's `label` / `label!` filters against `labels`.
fn labels_match(f: &Filters, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let has = |v: &String| match v.split_once('=') {
        Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
        None => labels.contains_key(v.as_str()),
    };
    f.get("label").is_none_or(|vals| vals.iter().all(has))
        && f.get("label!").is_none_or(|vals| !vals.iter().any(has))
}

/// Bytes of the distinct layers of every image in the store.
fn store_bytes(d: &Daemon) -> i64 {
    let mut seen = HashSet::new();
    let mut total = 0i64;
    for img in d.images.list().unwrap_or_default() {
        for diff in &img.config.rootfs.diff_ids {
            if seen.insert(diff.clone()) {
                total += d.images.layer(diff).map(|l| l.size as i64).unwrap_or(0);
            }
        }
    }
    total
}

/// `docker image prune [-a] [--filter until=|label=|label!=]`: untagged
/// images no container uses (with `dangling=false`, every image no
/// container uses), and the build's intermediate images under them.
pub async fn images(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["dangling", "until", "label", "label!"])?;
    let dangling_only = match f.get("dangling") {
        None => true,
        Some(v) => v.iter().any(|x| matches!(x.as_str(), "true" | "1")),
    };
    let until = match f.get("until").and_then(|v| v.first()) {
        Some(u) => Some(super::events::parse_timestamp(u)? / 1_000_000_000),
        None => None,
    };
    let d2 = d.clone();
    let (items, reclaimed) = tokio::task::spawn_blocking(move || {
        let before = store_bytes(&d2);
        let containers = &d2.containers;
        let in_use = |id: &str| containers.uses_image(id);
        let mut out = Vec::new();
        for img in d2.images.list()? {
            let id = img.id.clone();
            // Intermediate images go with the image built on them.
            if crate::build::cache::has_children(&d2.images, &id) || in_use(&id) {
                continue;
            }
            let tags = glue::image_tags(&img);
            if dangling_only && !tags.is_empty() {
                continue;
            }
            let created = crate::image::usage::secs(img.config.created.as_deref());
            if until.is_some_and(|u| created >= u) {
                continue;
            }
            let labels = img.config.config.labels.clone().unwrap_or_default();
            if !labels_match(&f, &labels) {
                continue;
            }
            for t in &tags {
                if let Ok(r) = d2.images.remove(t, false, &in_use) {
                    out.extend(r);
                }
            }
            if d2.images.resolve(&id).is_ok() {
                match d2.images.remove(&id, false, &in_use) {
                    Ok(r) => out.extend(r),
                    Err(_) => continue,
                }
            }
            out.extend(crate::build::cache::prune_parents(&d2.images, &id, &in_use));
        }
        Ok::<_, glue::ImageError>((out, (before - store_bytes(&d2)).max(0)))
    })
    .await
    .map_err(|e| ApiError::internal(format!("pruning images: {e}")))?
    .map_err(|e| ApiError::new(glue::image_status(&e), e.to_string()))?;
    let items: Vec<_> = items.iter().map(glue::removed_item).collect();
    for it in &items {
        if let Some(id) = &it.deleted {
            d.emit_image("delete", id, Some(id));
        }
    }
    d.events.emit(super::events::Event::new(
        "image",
        "prune",
        "",
        [("reclaimed".to_string(), reclaimed.to_string())].into(),
    ));
    json(
        StatusCode::OK,
        &serde_json::json!({"ImagesDeleted": items, "SpaceReclaimed": reclaimed}),
    )
}

/// `docker builder prune` (and the build-cache step of `system prune`):
/// whale's build cache is the builder's intermediate images, which live and
/// go with the images built on them (`image prune`), so there is never a
/// separate cache to delete.
pub fn build_cache(q: &Query) -> ApiResult {
    q.filters()?.only(&[
        "until",
        "id",
        "parent",
        "type",
        "description",
        "inuse",
        "shared",
        "private",
        "unused-for",
    ])?;
    json(
        StatusCode::OK,
        &serde_json::json!({"CachesDeleted": [], "SpaceReclaimed": 0}),
    )
}
