//! `GET|HEAD|PUT /containers/{id}/archive?path=P` (what `docker cp`
//! reads and writes): a tar of the file or directory at P as the container
//! sees it, or a tar unpacked into the directory P. The file system work is
//! the container's (see `container::archive`); this is its HTTP face.

use super::http::{response, ApiError, ApiResult, Body, Query};
use super::images_io::{ChannelWriter, CHUNK};
use super::Daemon;
use crate::container::archive::{CopyIn, CopyInError, CopyInto, RootView};
use crate::container::Container;
use hyper::StatusCode;
use std::io;
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
    let name = c.record.name.trim_start_matches('/').to_string();
    let root = RootView::new(&c, image_layers(d, &c, &name)?);
    // A trailing "/" or "/." asks for what a final symlink points to.
    let follow_last = path.ends_with('/') || path.ends_with("/.");
    let (r2, p2) = (root.clone(), path.clone());
    let found = tokio::task::spawn_blocking(move || {
        let f = r2.lookup(&p2, follow_last)?;
        Ok::<_, io::Error>(f.map(|f| {
            let stat = r2.path_stat(&p2, &f);
            (f, stat)
        }))
    })
    .await
    .map_err(|e| ApiError::internal(format!("resolving {path}: {e}")))?
    .map_err(|e| ApiError::bad_request(format!("resolving {path} in container {name}: {e}")))?;
    let Some((found, stat)) = found else {
        return Err(ApiError::not_found(format!(
            "Could not find the file {path} in container {name}"
        )));
    };
    let stat = base64(stat.to_string().as_bytes());
    let body = if head {
        Body::empty()
    } else {
        let (tx, body) = Body::channel();
        tokio::task::spawn_blocking(move || {
            let w = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            };
            if let Err(e) = root.write_tar(&found, w) {
                eprintln!("whale daemon: archive of {path}: {e}");
            }
        });
        body
    };
    let mut r = response(StatusCode::OK, "application/x-tar", body);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&stat) {
        r.headers_mut().insert("X-Docker-Container-Path-Stat", v);
    }
    Ok(r)
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
    let name = c.record.name.trim_start_matches('/').to_string();
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
        CopyInto::Running { pid: st.pid }
    } else {
        CopyInto::Stopped {
            image_layers: image_layers(d, &c, &name)?,
        }
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
