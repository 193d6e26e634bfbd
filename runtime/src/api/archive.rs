//! `GET|HEAD|PUT /containers/{id}/archive?path=P` (what `docker cp`
//! reads and writes): a tar of the file or directory at P as the container
//! sees it, or a tar unpacked into the directory P; and `GET
//! /containers/{id}/export`, its whole file system. The file system work
//! is the container's (see `container::archive`); this is its HTTP face.

use super::http::{response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::container::archive::{
    path_stat_json, ContainerRoot, CopyIn, CopyInError, CopyOut, CopyOutError, CopyWhat,
};
use crate::container::Container;
use hyper::StatusCode;
use std::path::PathBuf;
use std::sync::Arc;

/// The layer dirs of `c`'s image, top-most first (`name` for messages).
fn image_layers(d: &Daemon, c: &Container, name: &str) -> Result<Vec<PathBuf>, ApiError> {
    let img = d
        .images
        .resolve(&c.record.image_id)
        .map_err(|e| ApiError::internal(format!("image of container {name}: {e}")))?;
    d.images
        .layer_dirs(&img)
        .map_err(|e| ApiError::internal(format!("layers of container {name}: {e}")))
}

/// Run `whale copy-out` for `what` of `c` and answer with its stat (as
/// Docker's header, for a path) and, unless `head`, its tar streamed.
/// A stopped container stays stopped (and present) until the tar ends.
async fn copy_out(d: &Arc<Daemon>, c: Arc<Container>, what: CopyWhat, head: bool) -> ApiResult {
    let name = c.name().trim_start_matches('/').to_string();
    let is_path = matches!(what, CopyWhat::Path { .. });
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let (tx, body) = Body::channel();
    let layers = image_layers(d, &c, &name);
    let d2 = d.clone();
    tokio::spawn(async move {
        let guard = c.op_lock.lock().await;
        let st = c.state();
        let (from, _guard) = if st.running() {
            drop(guard);
            (ContainerRoot::Running { pid: st.pid }, None)
        } else {
            match layers {
                Ok(image_layers) => (
                    ContainerRoot::stopped(&c, image_layers, d2.containers.volumes()),
                    Some(guard),
                ),
                Err(e) => {
                    let _ = head_tx.send(Err(e));
                    return;
                }
            }
        };
        let mut out = match CopyOut::spawn(&c, what, from) {
            Ok(o) => o,
            Err(e) => {
                let _ = head_tx.send(Err(ApiError::internal(e.to_string())));
                return;
            }
        };
        let stat = match out.head().await {
            Ok(st) => st,
            Err(e) => {
                let _ = head_tx.send(Err(match e {
                    CopyOutError::NotFound => ApiError::not_found(String::new()),
                    e => ApiError::internal(format!("container {name}: {e}")),
                }));
                return;
            }
        };
        if head_tx.send(Ok(stat)).is_err() || head {
            return;
        }
        loop {
            match out.next_chunk().await {
                Ok(Some(b)) => {
                    if tx.send(b).await.is_err() {
                        return; // the client went away: the helper dies with `out`
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("whale daemon: copy out of {name}: {e}");
                    return;
                }
            }
        }
        if let Err(e) = out.finish().await {
            eprintln!("whale daemon: copy out of {name}: {e}");
        }
    });
    let stat = head_rx
        .await
        .map_err(|_| ApiError::internal("the copy out of the container ended early"))??;
    let mut r = response(
        StatusCode::OK,
        "application/x-tar",
        if head { Body::empty() } else { body },
    );
    if is_path {
        let stat = base64(path_stat_json(&stat).to_string().as_bytes());
        if let Ok(v) = hyper::header::HeaderValue::from_str(&stat) {
            r.headers_mut().insert("X-Docker-Container-Path-Stat", v);
        }
    }
    Ok(r)
}

/// `GET` (tar + stat header) or `HEAD` (stat header only).
pub async fn handle(d: &Arc<Daemon>, id: &str, q: &Query, head: bool) -> ApiResult {
    let c = d.containers.get(id)?;
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("the archive endpoint needs a path: add ?path=/file/in/container")
        })?
        .to_string();
    let name = c.name().trim_start_matches('/').to_string();
    let what = CopyWhat::Path {
        path: path.clone(),
        tar: !head,
    };
    copy_out(d, c, what, head).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::not_found(format!(
                "Could not find the file {path} in container {name}"
            ))
        } else {
            e
        }
    })
}

/// `GET /containers/{id}/export`: the container's file system as a tar,
/// without what is mounted over it (volumes, the engine's files).
pub async fn export(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    copy_out(d, c, CopyWhat::Export, false).await
}

/// `PUT /containers/{id}/archive?path=DIR`: unpack the tar body into DIR
/// of the container, running or not. Docker's answers: 404 when DIR does
/// not exist, 400 when it is not a directory.
pub async fn put(
    d: &Arc<Daemon>,
    id: &str,
    q: &Query,
    req: hyper::Request<hyper::body::Incoming>,
) -> ApiResult {
    use http_body_util::BodyExt;

    let c = d.containers.get(id)?;
    let name = c.name().trim_start_matches('/').to_string();
    let path = q
        .get("path")
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| {
            ApiError::bad_request(
                "the archive endpoint needs an absolute path: add ?path=/dir/in/container",
            )
        })?
        .to_string();
    // No start, stop or removal while the copy runs (see `CopyIn`).
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    let into = if st.running() {
        ContainerRoot::Running { pid: st.pid }
    } else {
        ContainerRoot::stopped(&c, image_layers(d, &c, &name)?, d.containers.volumes())
    };
    let mut copy = CopyIn::spawn(&c, &path, into).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data() {
            // The helper stops reading when it fails; finish says why.
            if !copy.write(&data).await {
                break;
            }
        }
    }
    match copy.finish().await {
        Ok(()) => no_content_ok(),
        Err(CopyInError::NoDestination) => Err(ApiError::not_found(format!(
            "Could not find the file {path} in container {name}"
        ))),
        Err(CopyInError::NotADirectory(why)) => Err(ApiError::bad_request(why)),
        Err(e @ CopyInError::Wait(_)) => Err(ApiError::internal(e.to_string())),
        Err(e) => Err(ApiError::internal(format!(
            "copying into {path} of container {name}: {e}"
        ))),
    }
}

/// Docker answers a successful PUT archive with 200 and no body.
fn no_content_ok() -> ApiResult {
    Ok(response(StatusCode::OK, "text/plain", Body::empty()))
}

/// Standard base64 with padding (the header Docker clients decode).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
