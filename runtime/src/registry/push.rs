//! Push: every layer of an image, then its config, then a Docker v2
//! schema 2 manifest under the tag. A layer the registry has (known from
//! an earlier pull or push and confirmed with a HEAD) is not sent again;
//! one a sibling repository has is mounted; the rest are gzipped from the
//! store's tar (read through `Store::layer_tar`, its sha256 checked against
//! the diff_id) and uploaded.

use super::client::{Session, DOCKER_MANIFEST};
use super::http;
use super::known::{self, Seen};
use super::manifest::{Descriptor, Manifest, DOCKER_CONFIG, DOCKER_LAYER_GZIP};
use super::{Credentials, HasStore, Progress, RegistryConfig, RegistryError, RemoteRef};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the daemon checks before answering: the local image and where it goes.
pub struct Plan {
    pub remote: RemoteRef,
    pub image_id: String,
    config: Vec<u8>,
    diff_ids: Vec<String>,
}

/// `name` and `tag` as `POST /images/{name}/push?tag=` gives them.
pub fn plan<S: HasStore>(s: &S, name: &str, tag: Option<&str>) -> Result<Plan, RegistryError> {
    let reference = match tag {
        Some(t) if t.starts_with("sha256:") => format!("{name}@{t}"),
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    };
    let remote = RemoteRef::parse(&reference).map_err(|e| match e {
        RegistryError::NoHub { .. } => RegistryError::NoHub {
            reference: reference.clone(),
        },
        e => e,
    })?;
    let local = remote.tagged().unwrap_or_else(|| reference.clone());
    let store = s.store();
    let image = store.resolve(&local).map_err(|e| match e {
        crate::image::ImageError::NotFound(_) => RegistryError::NotFound(format!(
            "An image does not exist locally with the tag: {}. Tag an image with that name first (whale tag IMAGE {local})",
            remote.name()
        )),
        e => e.into(),
    })?;
    let config = store.config_bytes(&image)?;
    Ok(Plan {
        remote,
        image_id: image.id.clone(),
        config,
        diff_ids: image.config.rootfs.diff_ids.clone(),
    })
}

fn short(diff_id: &str) -> String {
    let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
    hex[..hex.len().min(12)].to_string()
}

/// Push the planned image; returns the manifest's digest.
pub async fn push<S: HasStore>(
    s: Arc<S>,
    config: &RegistryConfig,
    plan: Plan,
    creds: Option<Credentials>,
    progress: &Progress,
) -> Result<String, RegistryError> {
    let remote = &plan.remote;
    progress.status(&format!(
        "The push refers to repository [{}]",
        remote.name()
    ));
    // Docker lists the top layer first.
    for d in plan.diff_ids.iter().rev() {
        progress.layer(&short(d), "Preparing");
    }
    let session = Session::open(config, &remote.registry, &remote.repository, creds, true).await?;
    let store = s.store();
    let scratch = store.scratch("push")?;
    let mut layers: Vec<Option<Descriptor>> = vec![None; plan.diff_ids.len()];
    let mut done: std::collections::HashMap<String, Descriptor> = Default::default();
    let mut seen = Vec::new();
    for (i, diff_id) in plan.diff_ids.iter().enumerate().rev() {
        if let Some(desc) = done.get(diff_id) {
            // The same layer twice in one image: sent once.
            layers[i] = Some(desc.clone());
            continue;
        }
        let id = short(diff_id);
        let desc = push_layer(&s, &session, remote, diff_id, &id, scratch.path(), progress).await?;
        seen.push((
            diff_id.clone(),
            Seen {
                registry: remote.registry.clone(),
                repository: remote.repository.clone(),
                digest: desc.digest.clone(),
                size: desc.size,
            },
        ));
        done.insert(diff_id.clone(), desc.clone());
        layers[i] = Some(desc);
    }
    known::remember(store, &seen);
    let config_digest = plan.image_id.clone();
    if !session.has_blob(&config_digest).await? {
        let b = Bytes::from(plan.config.clone());
        session
            .upload(&config_digest, b.len() as u64, move || {
                http::full(b.clone())
            })
            .await?;
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST.to_string(),
        config: Descriptor {
            media_type: DOCKER_CONFIG.to_string(),
            size: plan.config.len() as u64,
            digest: config_digest,
            urls: vec![],
            platform: None,
        },
        layers: layers.into_iter().flatten().collect(),
    };
    let bytes = Bytes::from(
        serde_json::to_vec_pretty(&manifest)
            .map_err(|e| RegistryError::Io(format!("encoding the manifest: {e}")))?,
    );
    let size = bytes.len();
    let tag = remote.tag.clone().unwrap_or_else(|| "latest".to_string());
    let digest = session.put_manifest(&tag, DOCKER_MANIFEST, bytes).await?;
    store.add_repo_digest(&remote.name(), &digest, &plan.image_id)?;
    progress.status(&format!("{tag}: digest: {digest} size: {size}"));
    progress.aux(serde_json::json!({ "Tag": tag, "Digest": digest, "Size": size }));
    Ok(digest)
}

/// One layer: already there, mounted, or compressed and uploaded.
async fn push_layer<S: HasStore>(
    s: &Arc<S>,
    session: &Session,
    remote: &RemoteRef,
    diff_id: &str,
    id: &str,
    scratch: &Path,
    progress: &Progress,
) -> Result<Descriptor, RegistryError> {
    let store = s.store();
    let desc = |digest: &str, size: u64| Descriptor {
        media_type: DOCKER_LAYER_GZIP.to_string(),
        size,
        digest: digest.to_string(),
        urls: vec![],
        platform: None,
    };
    let hints: Vec<Seen> = known::lookup(store, diff_id)
        .into_iter()
        .filter(|k| k.registry == remote.registry)
        .collect();
    for k in hints.iter().filter(|k| k.repository == remote.repository) {
        if session.has_blob(&k.digest).await? {
            progress.layer(id, "Layer already exists");
            return Ok(desc(&k.digest, k.size));
        }
    }
    for k in hints.iter().filter(|k| k.repository != remote.repository) {
        if session.mount(&k.digest, &k.repository).await? {
            progress.layer(id, &format!("Mounted from {}", k.repository));
            return Ok(desc(&k.digest, k.size));
        }
    }
    // Compress the store's tar (checked against its diff_id) into scratch.
    let tar = store.layer_tar(diff_id)?;
    let out = scratch.join(format!("{}.tar.gz", short(diff_id)));
    let (digest, size) = {
        let (out, diff_id) = (out.clone(), diff_id.to_string());
        tokio::task::spawn_blocking(move || gzip_layer(tar, &out, &diff_id))
            .await
            .map_err(|e| RegistryError::Io(format!("compressing a layer: {e}")))??
    };
    if session.has_blob(&digest).await? {
        progress.layer(id, "Layer already exists");
        let _ = std::fs::remove_file(&out);
        return Ok(desc(&digest, size));
    }
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let shown = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (p2, id2) = (progress.clone(), id.to_string());
    let out2 = out.clone();
    let body = move || {
        use std::sync::atomic::Ordering::Relaxed;
        sent.store(0, Relaxed);
        let (sent, shown, p, id) = (sent.clone(), shown.clone(), p2.clone(), id2.clone());
        match std::fs::File::open(&out2) {
            Ok(f) => http::file_body(tokio::fs::File::from_std(f), move |n| {
                let now = sent.fetch_add(n, Relaxed) + n;
                if now - shown.load(Relaxed) >= 512 * 1024 || now == size {
                    shown.store(now, Relaxed);
                    p.bytes(&id, "Pushing", now, size);
                }
            }),
            Err(_) => http::empty(),
        }
    };
    session.upload(&digest, size, body).await?;
    let _ = std::fs::remove_file(&out);
    progress.layer(id, "Pushed");
    Ok(desc(&digest, size))
}

/// Hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Gzip `tar` into `out`; the tar must hash to `diff_id`. Returns the
/// compressed blob's digest and size. (flate2 with a zero mtime is
/// deterministic: the same layer pushed twice is the same blob.)
fn gzip_layer(
    mut input: impl Read,
    out: &PathBuf,
    diff_id: &str,
) -> Result<(String, u64), RegistryError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        RegistryError::Io(format!("{what} {}: {e}", p.display()))
    };
    let reading = |e: std::io::Error| RegistryError::Io(format!("reading layer {diff_id}: {e}"));
    let file = std::fs::File::create(out).map_err(|e| io("creating", out, e))?;
    let hashing = Hashing {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
        len: 0,
    };
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(hashing, flate2::Compression::default());
    let mut tar_hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(reading)?;
        if n == 0 {
            break;
        }
        tar_hash.update(&buf[..n]);
        gz.write_all(&buf[..n]).map_err(|e| io("writing", out, e))?;
    }
    let got = format!("sha256:{}", hex::encode(tar_hash.finalize()));
    if got != diff_id {
        return Err(RegistryError::Store(crate::image::ImageError::Corrupt(
            format!("the stored tar of layer {diff_id} hashes to {got}"),
        )));
    }
    let mut hashing = gz.finish().map_err(|e| io("writing", out, e))?;
    hashing.flush().map_err(|e| io("writing", out, e))?;
    let Hashing { inner, hasher, len } = hashing;
    inner
        .into_inner()
        .map_err(|e| io("writing", out, e.into_error()))?
        .sync_all()
        .map_err(|e| io("writing", out, e))?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), len))
}
