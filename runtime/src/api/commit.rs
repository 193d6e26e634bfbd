//! `POST /commit`: the HTTP side of `docker commit` (the work is
//! container/commit.rs).

use super::http::{json, ApiError, ApiResult, Query};
use super::Daemon;
use crate::container::{self, CommitOptions};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::sync::Arc;

const MAX_BODY: usize = 1 << 20;

/// Docker merges a config in the body with the container's; whale applies
/// `changes` only, so a body that sets anything is refused, not ignored.
fn check_body(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the commit config: {e}")))?;
    let set: Vec<&String> = match &v {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !crate::container::fields::is_unset(v))
            .map(|(k, _)| k)
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "the commit config must be a JSON object",
            ))
        }
    };
    if let Some(k) = set.first() {
        return Err(ApiError::bad_request(format!(
            "whale does not merge a config into a commit (the body sets {k}); pass Dockerfile lines as `changes` (docker commit --change) instead"
        )));
    }
    Ok(())
}

pub async fn commit(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    check_body(&bytes)?;
    let name = q.get("container").unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "the container to commit is missing: give ?container=NAME|ID",
        ));
    }
    let c = d.containers.get(name)?;
    let repo = q.get("repo").unwrap_or("");
    let tag = q.get("tag").unwrap_or("");
    let reference = match (repo, tag) {
        ("", "") => None,
        ("", t) => {
            return Err(ApiError::bad_request(format!(
                "tag {t:?} given without a repository: give repo too"
            )))
        }
        (r, "") => Some(r.to_string()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let opts = CommitOptions {
        reference,
        comment: q.get("comment").unwrap_or("").to_string(),
        author: q.get("author").unwrap_or("").to_string(),
        changes: q
            .all("changes")
            .iter()
            .flat_map(|c| c.lines().map(str::to_string).collect::<Vec<_>>())
            .filter(|l| !l.trim().is_empty())
            .collect(),
        pause: q.bool_or("pause", true),
    };
    let comment = opts.comment.clone();
    let img = container::commit(d, &c, opts).await?;
    // Docker's local parent chain: a committed image's Parent is the
    // container's image (docker-py's commit test checks it).
    if let Err(e) = crate::build::cache::record_parent(&d.images, &img.id, &c.record.image_id) {
        eprintln!("whale daemon: recording the parent of {}: {e}", img.id);
    }
    let id = super::glue::image_id(&img);
    d.emit_container(&c, "commit", &[("comment", comment)]);
    // Docker's IdResponse is `{"Id": ...}` (bollard's model serializes `id`).
    json(StatusCode::CREATED, &serde_json::json!({ "Id": id }))
}
