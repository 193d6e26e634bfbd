//! `/containers/{id}/changes` (`docker diff`): the container's changes
//! (see `container::changes`) as Docker's JSON.

use super::http::{json, ApiError, ApiResult};
use super::Daemon;
use crate::container::changes::changes;
use std::sync::Arc;

pub async fn handle(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    let lowers = d
        .images
        .resolve(&c.record.image_id)
        .and_then(|img| d.images.layer_dirs(&img))
        .map_err(|e| ApiError::internal(format!("layers of container {}: {e}", c.name())))?;
    let upper = c.paths.upper();
    let list = tokio::task::spawn_blocking(move || changes(&upper, &lowers))
        .await
        .map_err(|e| ApiError::internal(format!("reading changes: {e}")))?
        .map_err(|e| ApiError::internal(format!("reading the changes of {}: {e}", c.name())))?;
    let body: Vec<serde_json::Value> = list
        .into_iter()
        .map(|(path, kind)| serde_json::json!({"Path": path, "Kind": kind}))
        .collect();
    json(hyper::StatusCode::OK, &body)
}
