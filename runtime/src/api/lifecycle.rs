//! `/containers/{id}/pause|unpause|rename|update`: the HTTP side of what
//! changes a container after create (the work is container/'s).

use super::http::{json, no_content, ApiError, ApiResult, Query};
use super::Daemon;
use crate::container;
use bollard::models::ContainerUpdateBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::sync::Arc;

const MAX_BODY: usize = 1 << 20;

pub async fn pause(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    container::pause(d, &c).await?;
    no_content(StatusCode::NO_CONTENT)
}

pub async fn unpause(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    container::unpause(d, &c).await?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/rename?name=NEW`.
pub async fn rename(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    container::rename(d, &c, q.get("name").unwrap_or("")).await?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/update`: the fields whale honours, any other
/// one refused by name.
pub async fn update(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let c = d.containers.get(id)?;
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let raw: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the update request: {e}")))?;
    // Honour or refuse: any field whale would not carry out is a 400.
    container::fields::check_update(&raw).map_err(ApiError::bad_request)?;
    container::check_restart_policy_name(raw.pointer("/RestartPolicy/Name"))?;
    let body: ContainerUpdateBody = serde_json::from_value(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid update request: {e}")))?;
    container::update(d, &c, body).await?;
    json(StatusCode::OK, &serde_json::json!({ "Warnings": [] }))
}
