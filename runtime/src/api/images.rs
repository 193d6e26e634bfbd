//! `/images/...`: list, inspect, remove, tag, import; a pull
//! (`fromImage=`) goes to `registry`.

use super::glue;
use super::http::{json, response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use bollard::models::{
    DriverData, ImageInspect, ImageInspectMetadata, ImageInspectRootFs, ImageSummary,
};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

fn image_error(e: glue::ImageError) -> ApiError {
    ApiError::new(glue::image_status(&e), e.to_string())
}

fn created_secs(img: &glue::Image) -> i64 {
    glue::image_config(img)
        .created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn labels(img: &glue::Image) -> HashMap<String, String> {
    glue::image_config(img)
        .config
        .labels
        .clone()
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

fn reference_matches(tag: &str, pattern: &str) -> bool {
    // `docker images busybox` means every tag of busybox.
    let (repo, _) = tag.rsplit_once(':').unwrap_or((tag, ""));
    tag == pattern || repo == pattern || glue_ref_latest(pattern) == tag
}

fn glue_ref_latest(r: &str) -> String {
    super::containers::normalize_ref(r)
}

pub fn list(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["reference", "dangling", "label"])?;
    let images = d.images.list().map_err(image_error)?;
    let shared = if q.bool("shared-size") {
        // As `system df` counts them (and Docker's list does): a build's
        // intermediate images share every layer with the image built on
        // them, so they are left out, or every built image would look
        // fully shared.
        let has_children = |id: &str| crate::build::cache::has_children(&d.images, id);
        let heads =
            crate::image::usage::df_images(&d.images, &[], &has_children).map_err(image_error)?;
        Some(
            heads
                .into_iter()
                .map(|h| (h.image.id, h.shared))
                .collect::<HashMap<_, _>>(),
        )
    } else {
        None
    };
    let mut out = Vec::new();
    for img in &images {
        let tags = glue::image_tags(img);
        let digests = d.images.repo_digests(&img.id);
        if !q.bool("all")
            && tags.is_empty()
            && digests.is_empty()
            && crate::build::cache::has_children(&d.images, &img.id)
        {
            continue; // a build's intermediate image: Docker shows those with -a only
        }
        if let Some(refs) = f.get("reference") {
            if !tags
                .iter()
                .any(|t| refs.iter().any(|r| reference_matches(t, r)))
            {
                continue;
            }
        }
        if let Some(d) = f.get("dangling") {
            let want = d.iter().any(|v| v == "true" || v == "1");
            if want != tags.is_empty() {
                continue;
            }
        }
        let l = labels(img);
        if let Some(wanted) = f.get("label") {
            let ok = wanted.iter().all(|v| match v.split_once('=') {
                Some((k, val)) => l.get(k).map(String::as_str) == Some(val),
                None => l.contains_key(v.as_str()),
            });
            if !ok {
                continue;
            }
        }
        let size = glue::image_size(img);
        out.push(ImageSummary {
            id: glue::image_id(img),
            parent_id: String::new(),
            repo_tags: tags,
            repo_digests: digests,
            created: created_secs(img),
            size,
            shared_size: shared
                .as_ref()
                .and_then(|s| s.get(&img.id).copied())
                .unwrap_or(-1),
            labels: l,
            containers: -1,
            manifests: None,
            descriptor: None,
        });
    }
    out.sort_by_key(|i| std::cmp::Reverse(i.created));
    json(StatusCode::OK, &out)
}

/// Image inspect in Docker's key order: Id, RepoTags, RepoDigests, Parent
/// (which bollard's model lacks), then the rest.
#[derive(serde::Serialize)]
struct ImageInspectBody {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    repo_digests: Vec<String>,
    #[serde(rename = "Parent")]
    parent: String,
    #[serde(flatten)]
    rest: ImageInspect,
}

pub fn inspect(d: &Arc<Daemon>, name: &str) -> ApiResult {
    let img = d.images.resolve(name).map_err(image_error)?;
    let cfg = glue::image_config(&img);
    let layers = d.images.layer_dirs(&img).unwrap_or_default();
    let mut data: HashMap<String, String> = HashMap::new();
    if let Some((top, rest)) = layers.split_first() {
        // Docker shows the top layer as UpperDir and the rest as LowerDir.
        data.insert("UpperDir".into(), top.display().to_string());
        data.insert(
            "MergedDir".into(),
            top.parent()
                .map(|p| p.join("merged"))
                .unwrap_or_default()
                .display()
                .to_string(),
        );
        data.insert(
            "WorkDir".into(),
            top.parent()
                .map(|p| p.join("work"))
                .unwrap_or_default()
                .display()
                .to_string(),
        );
        if !rest.is_empty() {
            data.insert(
                "LowerDir".into(),
                rest.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            );
        }
    }
    // The Config object as Docker shows it: the image's run config, re-read
    // through bollard's type so the shape matches what clients parse.
    let config = serde_json::to_value(&cfg.config)
        .ok()
        .and_then(|v| serde_json::from_value::<bollard::models::ImageConfig>(v).ok());
    let mut body = ImageInspect {
        id: Some(glue::image_id(&img)),
        repo_tags: Some(glue::image_tags(&img)),
        repo_digests: Some(d.images.repo_digests(&img.id)),
        comment: Some(
            cfg.history
                .last()
                .and_then(|h| h.comment.clone())
                .unwrap_or_default(),
        ),
        created: cfg
            .created
            .as_deref()
            .and_then(super::inspect::bollard_date),
        author: Some(cfg.author.clone().unwrap_or_default()),
        // Docker always prints Config, even for an image without one.
        config: config.or_else(|| Some(Default::default())),
        architecture: Some(cfg.architecture.clone()),
        os: Some(cfg.os.clone()),
        size: Some(glue::image_size(&img)),
        graph_driver: Some(DriverData {
            name: "overlay2".into(),
            data,
        }),
        root_fs: Some(ImageInspectRootFs {
            typ: "layers".into(),
            layers: Some(cfg.rootfs.diff_ids.clone()),
        }),
        metadata: Some(ImageInspectMetadata {
            last_tag_time: None,
        }),
        ..Default::default()
    };
    json(
        StatusCode::OK,
        &ImageInspectBody {
            id: body.id.take().unwrap_or_default(),
            repo_tags: body.repo_tags.take().unwrap_or_default(),
            repo_digests: body.repo_digests.take().unwrap_or_default(),
            // The image it was built or committed on, while it exists.
            parent: crate::build::cache::parent_of(&d.images, &img.id).unwrap_or_default(),
            rest: body,
        },
    )
}

pub async fn delete(d: &Arc<Daemon>, name: &str, q: &Query) -> ApiResult {
    let force = q.bool("force");
    // Docker's image events name the image by id.
    let image_id = d.images.resolve(name).map(|i| glue::image_id(&i)).ok();
    let d2 = d.clone();
    let name2 = name.to_string();
    let removed = tokio::task::spawn_blocking(move || {
        let containers = &d2.containers;
        let mut removed = d2
            .images
            .remove(&name2, force, &|id: &str| containers.uses_image(id))?;
        // The builder's intermediate images go with the image built on them.
        if let Some(glue::Removed::Deleted(id)) = removed
            .iter()
            .find(|r| matches!(r, glue::Removed::Deleted(_)))
            .cloned()
        {
            removed.extend(crate::build::cache::prune_parents(
                &d2.images,
                &id,
                &|i: &str| containers.uses_image(i),
            ));
        }
        Ok::<_, glue::ImageError>(removed)
    })
    .await
    .map_err(|e| ApiError::internal(format!("removing image {name}: {e}")))?
    .map_err(image_error)?;
    let items: Vec<_> = removed.iter().map(glue::removed_item).collect();
    for it in &items {
        if it.untagged.is_some() {
            let id = image_id.as_deref().unwrap_or(name);
            d.emit_image("untag", id, Some(id));
        }
        if let Some(id) = &it.deleted {
            d.emit_image("delete", id, Some(id));
        }
    }
    json(StatusCode::OK, &items)
}

pub fn tag(d: &Arc<Daemon>, name: &str, q: &Query) -> ApiResult {
    let repo = q.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| {
        ApiError::bad_request("repository name must have at least one component (repo=...)")
    })?;
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => super::containers::normalize_ref(repo),
    };
    d.images.tag(name, &target).map_err(image_error)?;
    let id = d
        .images
        .resolve(&target)
        .map(|i| glue::image_id(&i))
        .unwrap_or_default();
    // Docker names the tag in its familiar form (`web:1`, not docker.io/library/web:1).
    d.emit_image(
        "tag",
        &id,
        Some(whale_formats::reference::familiar(&target)),
    );
    let mut r = response(
        StatusCode::CREATED,
        "text/plain; charset=utf-8",
        Body::empty(),
    );
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// Feeds a request body to a blocking reader.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

pub async fn create(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    if q.get("fromImage").is_some_and(|s| !s.is_empty()) {
        return super::registry::pull(d, q, req).await;
    }
    if q.get("fromSrc") != Some("-") {
        return Err(ApiError::bad_request(
            "images/create needs fromSrc=- (import a rootfs tar sent as the request body); whale cannot fetch from URLs or registries",
        ));
    }
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|repo| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => super::containers::normalize_ref(repo),
        }
    });
    // Docker reads the changes as one Dockerfile: the docker CLI repeats the
    // parameter, bollard joins them with newlines; accept both.
    let changes: Vec<String> = q
        .all("changes")
        .iter()
        .flat_map(|c| c.lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let comment = q.get("message").unwrap_or("").to_string();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(16);
    let mut body = req.into_body();
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        if tx.send(Ok(data)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("reading the request body: {e}"))).await;
                    return;
                }
            }
        }
    });
    let d2 = d.clone();
    let reference2 = reference.clone();
    let img = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        d2.images
            .import_rootfs(reader, reference2.as_deref(), &changes, &comment)
    })
    .await
    .map_err(|e| ApiError::internal(format!("importing the image: {e}")))?
    .map_err(|e| {
        if glue::image_is_not_found(&e) {
            ApiError::internal(e.to_string())
        } else {
            image_error(e)
        }
    })?;
    let id = glue::image_id(&img);
    d.emit_image("import", &id, reference.as_deref());
    let line = serde_json::json!({ "status": id }).to_string() + "\r\n";
    Ok(response(
        StatusCode::OK,
        "application/json",
        Body::full(line),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter() {
        assert!(reference_matches("busybox:latest", "busybox"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(!reference_matches("busybox:1", "busybox:latest"));
        assert!(reference_matches("busybox:1", "busybox"));
        assert!(!reference_matches("debian:bookworm", "busybox"));
    }

    #[test]
    fn channel_reader_concatenates_chunks() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"ab"))).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"cde"))).unwrap();
        drop(tx);
        let mut r = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcde");
    }
}
