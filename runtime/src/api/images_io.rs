//! Images in and out: `GET /images/{name}/history`, `GET /images/get`
//! (docker-archive save), `POST /images/load`, `GET /system/df`, and
//! `GET /containers/{id}/export` (the container's filesystem as one tar).

use super::http::{json, response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::build::cache;
use crate::image::archive::{self, Loaded};
use crate::image::usage::{self, df_images, history_of, secs};
use crate::image::{Image, ImageError};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::io::{self, Write};
use std::sync::Arc;
use tokio::sync::mpsc;

pub use crate::image::usage::dir_size;

fn image_error(e: ImageError) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.to_string(),
    )
}

fn not_found(name: &str, e: ImageError) -> ApiError {
    match e {
        ImageError::NotFound(_) => ApiError::not_found(format!(
            "No such image: {}",
            super::containers::normalize_ref(name)
        )),
        other => image_error(other),
    }
}

// ---------------------------------------------------------------- history

pub fn history(d: &Arc<Daemon>, name: &str) -> ApiResult {
    let img = d.images.resolve(name).map_err(|e| not_found(name, e))?;
    let parent_of = |id: &str| cache::parent_of(&d.images, id);
    json(StatusCode::OK, &history_of(&d.images, &img, &parent_of))
}

// ---------------------------------------------------------------- system df

pub fn system_df(d: &Arc<Daemon>) -> ApiResult {
    let containers = d.containers.list();
    let used: Vec<String> = containers
        .iter()
        .map(|c| c.record.image_id.clone())
        .collect();
    let has_children = |id: &str| cache::has_children(&d.images, id);
    let imgs = df_images(&d.images, &used, &has_children).map_err(image_error)?;
    let layers_size = usage::layers_size(&d.images, &imgs);
    let images: Vec<serde_json::Value> = imgs
        .iter()
        .map(|i| {
            serde_json::json!({
                "Id": i.image.id,
                "ParentId": "",
                "RepoTags": i.image.repo_tags,
                "RepoDigests": [],
                "Created": i.image.created,
                "Size": i.size,
                "SharedSize": i.shared,
                "VirtualSize": i.size,
                "Labels": i.image.config.config.labels.clone().unwrap_or_default(),
                "Containers": i.containers,
            })
        })
        .collect();
    let cs: Vec<serde_json::Value> = containers
        .iter()
        .map(|c| {
            let upper = dir_size(&c.paths.upper());
            let st = c.state();
            serde_json::json!({
                "Id": c.id(),
                "Names": [format!("/{}", c.name())],
                "Image": c.record.image,
                "ImageID": c.record.image_id,
                "Command": std::iter::once(c.record.path.clone()).chain(c.record.args.iter().cloned()).collect::<Vec<_>>().join(" "),
                "Created": secs(Some(&c.record.created)),
                "SizeRw": upper,
                "SizeRootFs": upper + d.images.resolve(&c.record.image_id).map(|i| i.size as i64).unwrap_or(0),
                "State": st.status.as_str(),
                "Status": crate::container::status_string(&st, c.health_status(), chrono::Utc::now()),
            })
        })
        .collect();
    let active = imgs.iter().filter(|i| i.containers > 0).count();
    let running = containers.iter().filter(|c| c.state().running()).count();
    let rw: i64 = cs.iter().filter_map(|c| c["SizeRw"].as_i64()).sum();
    let (volumes, volume_usage) = super::volumes::disk_usage(d);
    // Docker 1.43 shape (Images, Containers, ...) and the newer one
    // (ImageUsage/ContainerUsage with Items) that current clients read.
    json(
        StatusCode::OK,
        &serde_json::json!({
            "LayersSize": layers_size,
            "Images": images,
            "Containers": cs,
            "Volumes": volumes,
            "BuildCache": [],
            "ImageUsage": {
                "ActiveCount": active,
                "TotalCount": imgs.len(),
                "TotalSize": layers_size,
                "Reclaimable": 0,
                "Items": images,
            },
            "ContainerUsage": {
                "ActiveCount": running,
                "TotalCount": cs.len(),
                "TotalSize": rw,
                "Reclaimable": 0,
                "Items": cs,
            },
            "VolumeUsage": volume_usage,
            "BuildCacheUsage": { "ActiveCount": 0, "TotalCount": 0, "TotalSize": 0, "Reclaimable": 0, "Items": [] },
        }),
    )
}

// ---------------------------------------------------------------- save

/// Chunks a blocking writer into a response body (save, export, archive).
pub(super) struct ChannelWriter {
    pub(super) tx: mpsc::Sender<Bytes>,
    pub(super) buf: Vec<u8>,
}

pub(super) const CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let b = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(b)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

pub fn save(d: &Arc<Daemon>, one: Option<&str>, q: &Query) -> ApiResult {
    let names: Vec<String> = match one {
        Some(n) => vec![n.to_string()],
        None => q.all("names"),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "say which images to save: /images/get?names=IMAGE",
        ));
    }
    // Resolve everything before answering, so a typo is a 404, not a
    // broken tar.
    let mut wanted: Vec<(Image, Vec<String>)> = Vec::new();
    for n in &names {
        let img = d.images.resolve(n).map_err(|e| not_found(n, e))?;
        let by_id = img.id == *n
            || img
                .hex()
                .starts_with(n.strip_prefix("sha256:").unwrap_or(n))
                && !img
                    .repo_tags
                    .iter()
                    .any(|t| *t == super::containers::normalize_ref(n));
        let tag = (!by_id).then(|| super::containers::normalize_ref(n));
        match wanted.iter_mut().find(|(i, _)| i.id == img.id) {
            Some((_, tags)) => tags.extend(tag),
            None => {
                // Saved by id: no tag goes along (`RepoTags: null`), as
                // dockerd 20.10 does; docker-py's `Image.save()` saves by id
                // and its tests expect one image back from `load`.
                let tags = tag.into_iter().collect();
                wanted.push((img, tags));
            }
        }
    }
    let (tx, body) = Body::channel();
    let d2 = d.clone();
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = archive::write_archive(&d2.images, &wanted, w) {
            eprintln!("whale daemon: save: {e}");
        }
    });
    Ok(response(StatusCode::OK, "application/x-tar", body))
}

// ---------------------------------------------------------------- load

/// `POST /images/load`: the body is spooled into a scratch dir under the
/// store (at most the load limit), then loaded by `image::archive::load`.
pub async fn load(d: &Arc<Daemon>, req: Request<Incoming>) -> ApiResult {
    let scratch = d.images.scratch("load").map_err(image_error)?;
    let max = d.images.limits().load_bytes;
    let spool = scratch.path().join("archive");
    let mut file = tokio::fs::File::create(&spool)
        .await
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", spool.display())))?;
    let mut body = req.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            if received > max {
                return Err(image_error(crate::image::limits::exceeded(
                    "the uploaded archive",
                    max,
                    "WHALE_MAX_LOAD_BYTES",
                )));
            }
            tokio::io::AsyncWriteExt::write_all(&mut file, &data)
                .await
                .map_err(|e| ApiError::internal(format!("writing {}: {e}", spool.display())))?;
        }
    }
    // tokio's File hands writes to a blocking thread: without this flush the
    // last chunk may not be on disk yet when the archive is read back.
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", spool.display())))?;
    drop(file);
    // From here on, as dockerd: a 200 whose JSON stream tells the outcome,
    // one message a chunk (docker-py decodes chunk by chunk, and raises
    // ImageLoadError on an `error` message).
    let (tx, body) = Body::channel();
    let d = d.clone();
    tokio::spawn(async move {
        let d2 = d.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let dir = scratch.path().to_path_buf();
            let r = archive::load(&d2.images, &spool, &dir);
            drop(scratch);
            r
        })
        .await
        .map_err(|e| format!("loading: {e}"))
        .and_then(|r| r.map_err(|e| image_error(e).message));
        let loaded: Vec<Loaded> = match loaded {
            Ok(l) => l,
            Err(m) => {
                let line = serde_json::json!({ "errorDetail": { "message": m }, "error": m });
                let _ = tx.send(Bytes::from(line.to_string() + "\r\n")).await;
                return;
            }
        };
        for Loaded { image, tags } in &loaded {
            let mut lines = Vec::new();
            if tags.is_empty() {
                d.emit_image("load", &image.id, None);
                lines.push(format!("Loaded image ID: {}\n", image.id));
            }
            for t in tags {
                d.emit_image("load", &image.id, Some(t));
                lines.push(format!("Loaded image: {t}\n"));
            }
            for l in lines {
                let line = serde_json::json!({ "stream": l }).to_string() + "\r\n";
                let _ = tx.send(Bytes::from(line)).await;
            }
        }
    });
    Ok(response(StatusCode::OK, "application/json", body))
}
