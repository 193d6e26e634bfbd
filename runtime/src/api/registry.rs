//! The registry endpoints: `POST /images/create?fromImage=` (pull),
//! `POST /images/{name}/push`, `GET /distribution/{name}/json`, `POST /auth`.
//! Pull and push stream Docker's JSON progress lines; what fails before the
//! first line (a bad reference, an unknown image, an unreachable or refusing
//! registry) is answered with a status and `{"message"}`, what fails after
//! inside the stream (`{"errorDetail":...,"error":...}`), as dockerd does.

use super::http::{json, response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::registry::{self, Credentials, Progress, RegistryError};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::future::Future;
use std::sync::Arc;

fn registry_error(e: RegistryError) -> ApiError {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, e.to_string())
}

/// The credentials in `X-Registry-Auth`, if any.
fn credentials(req: &Request<Incoming>) -> Result<Option<Credentials>, ApiError> {
    match req.headers().get("X-Registry-Auth") {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                ApiError::bad_request("the X-Registry-Auth header is not ASCII base64")
            })?;
            Credentials::from_header(v).map_err(registry_error)
        }
    }
}

/// `platform=` may only name the host's platform: whale pulls and pushes
/// that one (Docker's multi-platform handling is not implemented).
fn check_platform(q: &Query) -> Result<(), ApiError> {
    let Some(p) = q.get("platform").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let arch = crate::image::host_architecture();
    // docker 28 sends the platform as JSON ({"os":..,"architecture":..}) on push.
    let wanted = match serde_json::from_str::<serde_json::Value>(p) {
        Ok(v) if v.is_object() => {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            format!("{}/{}", s("os"), s("architecture"))
        }
        _ => p.to_string(),
    };
    if wanted == "linux" || wanted == format!("linux/{arch}") || wanted == "/" {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "platform {p} is not supported by whale: it pulls and pushes the host's platform only (linux/{arch}); leave --platform unset"
    )))
}

/// Stream the progress `work` sends, then its error (if any) as dockerd's
/// error line.
fn stream<F>(work: impl FnOnce(Progress) -> F + Send + 'static) -> ApiResult
where
    F: Future<Output = Result<(), RegistryError>> + Send + 'static,
{
    let (tx, body) = Body::channel();
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let progress = Progress::new(ptx);
    let line = |v: &serde_json::Value| Bytes::from(format!("{v}\r\n"));
    tokio::spawn(async move {
        let tx2 = tx.clone();
        let forward = async move {
            while let Some(v) = prx.recv().await {
                // A client that left does not stop the work.
                let _ = tx2.send(line(&v)).await;
            }
        };
        let (result, ()) = tokio::join!(work(progress), forward);
        if let Err(e) = result {
            let msg = e.to_string();
            let v = serde_json::json!({ "errorDetail": { "message": msg }, "error": msg });
            let _ = tx.send(line(&v)).await;
        }
    });
    Ok(response(StatusCode::OK, "application/json", body))
}

/// `POST /images/create?fromImage=NAME&tag=TAG`.
pub async fn pull(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    check_platform(q)?;
    for refused in ["fromSrc", "repo", "message", "changes"] {
        if q.get(refused).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "images/create: {refused}= does not go with fromImage= (a pull takes fromImage and tag; an import takes fromSrc=-)"
            )));
        }
    }
    let from = q.get("fromImage").unwrap_or("");
    let reference = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    let creds = credentials(&req)?;
    drop(req);
    // Errors up to here are the answer's status; after, inside the stream.
    let resolved = registry::pull::resolve(&d.registries, &reference, creds)
        .await
        .map_err(registry_error)?;
    let d2 = d.clone();
    stream(move |progress| async move {
        let tagged = resolved.remote.tagged();
        let id = registry::pull::fetch(d2.clone(), resolved, &progress).await?;
        d2.emit_image("pull", &id, tagged.as_deref());
        Ok(())
    })
}

/// `POST /images/{name}/push?tag=TAG`.
pub async fn push(d: &Arc<Daemon>, name: &str, q: &Query, req: Request<Incoming>) -> ApiResult {
    check_platform(q)?;
    let creds = credentials(&req)?;
    drop(req);
    let tag = q.get("tag").filter(|t| !t.is_empty());
    let plan = registry::push::plan(d.as_ref(), name, tag).map_err(registry_error)?;
    let d2 = d.clone();
    stream(move |progress| async move {
        let shown = plan.remote.display();
        let config = d2.registries.clone();
        registry::push::push(d2.clone(), &config, plan, creds, &progress).await?;
        d2.emit_image("push", &shown, Some(&shown));
        Ok(())
    })
}

/// `GET /distribution/{name}/json`: the descriptor a reference resolves to
/// on its registry, and its platforms.
pub async fn distribution(d: &Arc<Daemon>, name: &str, req: Request<Incoming>) -> ApiResult {
    let creds = credentials(&req)?;
    drop(req);
    let info = registry::pull::describe(&d.registries, name, creds)
        .await
        .map_err(registry_error)?;
    json(StatusCode::OK, &info)
}

/// `POST /auth`: check credentials against a registry, as `docker login` does.
pub async fn auth(d: &Arc<Daemon>, req: Request<Incoming>) -> ApiResult {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the /auth body must be JSON like {{\"username\":..,\"password\":..,\"serveraddress\":..}}: {e}"
        ))
    })?;
    let server = v
        .get("serveraddress")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "serveraddress is empty: name the registry (whale login HOST[:PORT]); whale has no default registry",
            )
        })?
        .to_string();
    if v.get("identitytoken")
        .and_then(|t| t.as_str())
        .is_some_and(|t| !t.is_empty())
    {
        return Err(ApiError::bad_request(
            "identitytoken is not supported by whale: log in with a username and password",
        ));
    }
    let creds = Credentials::from_json(&v)
        .map_err(registry_error)?
        .ok_or_else(|| ApiError::bad_request("username and password are empty"))?;
    registry::login(&d.registries, &server, creds)
        .await
        .map_err(|e| match e {
            RegistryError::Unauthorized { .. } => ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("login attempt to {server} failed with status: 401 Unauthorized ({e})"),
            ),
            e => registry_error(e),
        })?;
    json(
        StatusCode::OK,
        &serde_json::json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
    )
}
