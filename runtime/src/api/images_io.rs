//! Images in and out: `GET /images/{name}/history`, `GET /images/get`
//! (docker-archive save), `POST /images/load`, `GET /system/df`, and
//! `GET /containers/{id}/export` (the container's filesystem as one tar).

use super::http::{json, response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::build::cache;
use crate::image::{Image, ImageError, Store};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

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

fn secs(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- history

#[derive(Debug, Clone, PartialEq, Serialize)]
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
/// id, each older one its parent's (as far as whale knows the parents),
/// the rest `<missing>`.
pub fn history_of(store: &Store, img: &Image) -> Vec<HistoryItem> {
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
                .and_then(|d| store.layer(d).ok())
                .map(|l| l.size as i64)
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
                size: store.layer(d).map(|l| l.size as i64).unwrap_or(0),
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
        cur = cache::parent_of(store, &i.id).and_then(|p| store.resolve(&p).ok());
    }
    items
}

pub fn history(d: &Arc<Daemon>, name: &str) -> ApiResult {
    let img = d.images.resolve(name).map_err(|e| not_found(name, e))?;
    json(StatusCode::OK, &history_of(&d.images, &img))
}

// ---------------------------------------------------------------- system df

/// Per image: total size, the part shared with other images (layers by
/// chain, as Docker counts them), and how many containers use it.
#[derive(Debug, Clone, PartialEq)]
pub struct DfImage {
    pub image: Image,
    pub size: i64,
    pub shared: i64,
    pub containers: i64,
}

/// Top-level images (those no other image was built on) and their sharing.
pub fn df_images(store: &Store, container_images: &[String]) -> Result<Vec<DfImage>, ImageError> {
    let all = store.list()?;
    let heads: Vec<Image> = all
        .into_iter()
        .filter(|i| !i.repo_tags.is_empty() || !cache::has_children(store, &i.id))
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

pub fn system_df(d: &Arc<Daemon>) -> ApiResult {
    let containers = d.containers.list();
    let used: Vec<String> = containers
        .iter()
        .map(|c| c.record.image_id.clone())
        .collect();
    let imgs = df_images(&d.images, &used).map_err(image_error)?;
    let mut layers_size: i64 = 0;
    let mut seen = HashSet::new();
    for i in &imgs {
        for diff in &i.image.config.rootfs.diff_ids {
            if seen.insert(diff.clone()) {
                layers_size += d.images.layer(diff).map(|l| l.size as i64).unwrap_or(0);
            }
        }
    }
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
                "Names": [format!("/{}", c.record.name)],
                "Image": c.record.image,
                "ImageID": c.record.image_id,
                "Command": std::iter::once(c.record.path.clone()).chain(c.record.args.iter().cloned()).collect::<Vec<_>>().join(" "),
                "Created": secs(Some(&c.record.created)),
                "SizeRw": upper,
                "SizeRootFs": upper + d.images.resolve(&c.record.image_id).map(|i| i.size as i64).unwrap_or(0),
                "State": st.status.as_str(),
                "Status": crate::container::status_string(&st, chrono::Utc::now()),
            })
        })
        .collect();
    let active = imgs.iter().filter(|i| i.containers > 0).count();
    let running = containers.iter().filter(|c| c.state().running()).count();
    let rw: i64 = cs.iter().filter_map(|c| c["SizeRw"].as_i64()).sum();
    // Docker 1.43 shape (Images, Containers, ...) and the newer one
    // (ImageUsage/ContainerUsage with Items) that current clients read.
    json(
        StatusCode::OK,
        &serde_json::json!({
            "LayersSize": layers_size,
            "Images": images,
            "Containers": cs,
            "Volumes": [],
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
            "VolumeUsage": { "ActiveCount": 0, "TotalCount": 0, "TotalSize": 0, "Reclaimable": 0, "Items": [] },
            "BuildCacheUsage": { "ActiveCount": 0, "TotalCount": 0, "TotalSize": 0, "Reclaimable": 0, "Items": [] },
        }),
    )
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn tar_file(
    tar: &mut tar::Builder<impl Write>,
    name: &str,
    data: &[u8],
    mtime: u64,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)
}

fn tar_dir(tar: &mut tar::Builder<impl Write>, name: &str, mtime: u64) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut h, name, io::empty())
}

/// The v1 layer id Docker's save uses for a layer dir: a digest of the
/// chain so far, so equal layers at different positions stay apart.
fn v1_id(parent: &str, diff_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{parent}\n{diff_id}").as_bytes()))
}

/// Write the images (with the tags they were asked by) as a docker-archive.
pub fn write_archive(
    store: &Store,
    wanted: &[(Image, Vec<String>)],
    out: impl Write,
) -> Result<(), ApiError> {
    let mut tar = tar::Builder::new(out);
    let io_fail = |e: io::Error| ApiError::internal(format!("writing the archive: {e}"));
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: HashSet<String> = HashSet::new();
    for (img, tags) in wanted {
        let mtime = img.created.max(0) as u64;
        let mut parent = String::new();
        let mut layers = Vec::new();
        for diff in &img.config.rootfs.diff_ids {
            let id = v1_id(&parent, diff);
            let path = format!("{id}/layer.tar");
            if written.insert(id.clone()) {
                tar_dir(&mut tar, &format!("{id}/"), mtime).map_err(io_fail)?;
                tar_file(&mut tar, &format!("{id}/VERSION"), b"1.0", mtime).map_err(io_fail)?;
                let mut v1 = serde_json::json!({ "id": id, "created": "1970-01-01T00:00:00Z" });
                if !parent.is_empty() {
                    v1["parent"] = serde_json::Value::String(parent.clone());
                }
                tar_file(
                    &mut tar,
                    &format!("{id}/json"),
                    v1.to_string().as_bytes(),
                    mtime,
                )
                .map_err(io_fail)?;
                let blob = store.blob_path(diff).map_err(image_error)?;
                let mut f = File::open(&blob).map_err(|e| {
                    ApiError::internal(format!("opening layer {}: {e}", blob.display()))
                })?;
                let len = f.metadata().map_err(io_fail)?.len();
                let mut h = tar::Header::new_gnu();
                h.set_size(len);
                h.set_mode(0o644);
                h.set_mtime(mtime);
                h.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut h, &path, &mut f).map_err(io_fail)?;
            }
            layers.push(path);
            parent = id;
        }
        let cfg_name = format!("{}.json", img.hex());
        if written.insert(cfg_name.clone()) {
            let bytes = store.config_bytes(img).map_err(image_error)?;
            tar_file(&mut tar, &cfg_name, &bytes, mtime).map_err(io_fail)?;
        }
        for t in tags {
            if let Some((repo, tag)) = t.rsplit_once(':') {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.to_string(), parent.clone());
            }
        }
        manifest.push(ManifestEntry {
            config: cfg_name,
            repo_tags: Some(tags.clone()),
            layers,
        });
    }
    let m = serde_json::to_vec(&manifest).map_err(|e| ApiError::internal(e.to_string()))?;
    tar_file(&mut tar, "manifest.json", &m, 0).map_err(io_fail)?;
    if !repositories.is_empty() {
        let r = serde_json::to_vec(&repositories).map_err(|e| ApiError::internal(e.to_string()))?;
        tar_file(&mut tar, "repositories", &r, 0).map_err(io_fail)?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_fail)?;
    Ok(())
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
                // Saved by id: every tag of the image goes along, as Docker does.
                let tags = match tag {
                    Some(t) => vec![t],
                    None => img.repo_tags.clone(),
                };
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
        if let Err(e) = write_archive(&d2.images, &wanted, w) {
            eprintln!("whale daemon: save: {}", e.message);
        }
    });
    Ok(response(StatusCode::OK, "application/x-tar", body))
}

// ---------------------------------------------------------------- load

/// Load a docker-archive unpacked at `dir`; the loaded images and tags.
pub fn load_archive(store: &Store, dir: &Path) -> Result<Vec<(Image, Vec<String>)>, ApiError> {
    let mpath = dir.join("manifest.json");
    let bytes = fs::read(&mpath).map_err(|_| {
        ApiError::bad_request(
            "the archive has no manifest.json: whale loads the docker-archive format of `docker save` (Docker 1.10 and later)",
        )
    })?;
    let manifest: Vec<ManifestEntry> = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("the archive's manifest.json is invalid: {e}"))
    })?;
    let mut out = Vec::new();
    for m in manifest {
        let inside = |name: &str| -> Result<PathBuf, ApiError> {
            crate::build::context::resolve_in_root(dir, name, true)
                .map_err(|e| ApiError::bad_request(format!("archive entry {name:?}: {e}")))
        };
        let cfg_path = inside(&m.config)?;
        let cfg_bytes = fs::read(&cfg_path).map_err(|e| {
            ApiError::bad_request(format!(
                "the archive lacks the image config {}: {e}",
                m.config
            ))
        })?;
        let cfg: crate::image::ImageConfig = serde_json::from_slice(&cfg_bytes).map_err(|e| {
            ApiError::bad_request(format!("image config {} is invalid: {e}", m.config))
        })?;
        if cfg.rootfs.diff_ids.len() != m.layers.len() {
            return Err(ApiError::bad_request(format!(
                "image config {} lists {} layers but the manifest has {}",
                m.config,
                cfg.rootfs.diff_ids.len(),
                m.layers.len()
            )));
        }
        for (want, lpath) in cfg.rootfs.diff_ids.iter().zip(&m.layers) {
            let p = inside(lpath)?;
            let f = File::open(&p).map_err(|e| {
                ApiError::bad_request(format!("the archive lacks layer {lpath}: {e}"))
            })?;
            let layer = store
                .add_layer(BufReader::with_capacity(1 << 20, f))
                .map_err(|e| image_error_in(lpath, e))?;
            if layer.diff_id != *want {
                return Err(ApiError::bad_request(format!(
                    "layer {lpath} has content {} but the image config expects {want}: the archive is damaged",
                    layer.diff_id
                )));
            }
        }
        let img = store
            .create_image_from_bytes(&cfg_bytes, None)
            .map_err(image_error)?;
        let tags = m.repo_tags.unwrap_or_default();
        for t in &tags {
            store.tag(&img.id, t).map_err(image_error)?;
        }
        out.push((img, tags));
    }
    Ok(out)
}

fn image_error_in(what: &str, e: ImageError) -> ApiError {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, format!("loading {what}: {e}"))
}

/// Scratch dir removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub async fn load(d: &Arc<Daemon>, req: Request<Incoming>) -> ApiResult {
    let dir = d
        .root
        .join("build-tmp")
        .join(format!("load-{:016x}", rand::random::<u64>()));
    let scratch = Scratch(dir.clone());
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", dir.display())))?;
    let archive = dir.join("archive.tar");
    let mut file = tokio::fs::File::create(&archive)
        .await
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", archive.display())))?;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data() {
            tokio::io::AsyncWriteExt::write_all(&mut file, &data)
                .await
                .map_err(|e| ApiError::internal(format!("writing {}: {e}", archive.display())))?;
        }
    }
    // tokio's File hands writes to a blocking thread: without this flush the
    // last chunk may not be on disk yet when the archive is read back.
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", archive.display())))?;
    drop(file);
    let d2 = d.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let _scratch = scratch;
        let unpacked = dir.join("unpacked");
        fs::create_dir_all(&unpacked)
            .map_err(|e| ApiError::internal(format!("creating {}: {e}", unpacked.display())))?;
        let f = File::open(&archive)
            .map_err(|e| ApiError::internal(format!("opening {}: {e}", archive.display())))?;
        let mut magic = [0u8; 2];
        let gz = io::Read::read(&mut &f, &mut magic).ok() == Some(2) && magic == [0x1f, 0x8b];
        let f = File::open(&archive)
            .map_err(|e| ApiError::internal(format!("opening {}: {e}", archive.display())))?;
        let r: Box<dyn io::Read> = if gz {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            Box::new(f)
        };
        crate::image::extract::extract_layer(BufReader::with_capacity(1 << 20, r), &unpacked)
            .map_err(|e| ApiError::bad_request(format!("the image archive: {e}")))?;
        load_archive(&d2.images, &unpacked)
    })
    .await
    .map_err(|e| ApiError::internal(format!("loading: {e}")))??;
    let mut lines = String::new();
    for (img, tags) in &loaded {
        if tags.is_empty() {
            d.emit_image("load", &img.id, None);
            lines += &(serde_json::json!({ "stream": format!("Loaded image ID: {}\n", img.id) })
                .to_string()
                + "\r\n");
        }
        for t in tags {
            d.emit_image("load", &img.id, Some(t));
            lines += &(serde_json::json!({ "stream": format!("Loaded image: {t}\n") }).to_string()
                + "\r\n");
        }
    }
    Ok(response(
        StatusCode::OK,
        "application/json",
        Body::full(lines),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_ids_depend_on_position() {
        assert_ne!(v1_id("", "sha256:a"), v1_id("x", "sha256:a"));
        assert_eq!(v1_id("", "sha256:a").len(), 64);
    }
}
