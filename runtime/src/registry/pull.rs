//! Pull: resolve a reference to an image manifest and its config (errors
//! here come before any progress, so the API answers them with a status),
//! then fetch the layers the store lacks, each checked against its digest
//! and the config's diff_id, and commit them with the config and the tag in
//! one step of the store's staging: a failed pull leaves nothing.

use super::client::Session;
use super::known::{self, Seen};
use super::manifest::{self, Fetched, Manifest};
use super::{Credentials, HasStore, Progress, RegistryConfig, RegistryError, RemoteRef};
use crate::image::{ImageConfig, StagedImage};
use bytes::Bytes;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Configs larger than this are refused.
const MAX_CONFIG: usize = 8 << 20;

/// A reference resolved on its registry: ready to fetch.
pub struct Resolved {
    session: Session,
    pub remote: RemoteRef,
    /// The digest the reference resolved to (a list's, when it was one):
    /// the RepoDigest.
    pub digest: String,
    manifest: Manifest,
    config: Bytes,
}

impl Resolved {
    /// The image id the pull makes (sha256 of the config).
    pub fn image_id(&self) -> &str {
        &self.manifest.config.digest
    }
}

/// Find `reference` on its registry: manifest (the host's, from a list) and config.
pub async fn resolve(
    config: &RegistryConfig,
    reference: &str,
    creds: Option<Credentials>,
) -> Result<Resolved, RegistryError> {
    let remote = RemoteRef::parse(reference)?;
    let session = Session::open(config, &remote.registry, &remote.repository, creds, false).await?;
    let what = remote.display();
    let (bytes, media_type, digest) = session.manifest(remote.reference()).await?;
    let manifest = match manifest::parse(&bytes, &media_type, &what)? {
        Fetched::Image(m) => m,
        Fetched::Pick(d) => {
            let (bytes, media_type, _) = session.manifest(&d.digest).await?;
            match manifest::parse(&bytes, &media_type, &what)? {
                Fetched::Image(m) => m,
                Fetched::Pick(_) => {
                    return Err(RegistryError::Protocol(format!(
                        "the manifest list of {what} points to another list"
                    )))
                }
            }
        }
    };
    for l in &manifest.layers {
        if !l.urls.is_empty() {
            return Err(RegistryError::Protocol(format!(
                "{what} has a foreign layer ({}) that lives outside the registry; whale pulls only layers the registry holds",
                l.digest
            )));
        }
    }
    let resp = session.blob(&manifest.config.digest).await?;
    let config = super::http::read_body(resp, MAX_CONFIG).await?;
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    if got != manifest.config.digest {
        return Err(RegistryError::Protocol(format!(
            "the config of {what} has the digest {got}, not {} as its manifest says: refusing it",
            manifest.config.digest
        )));
    }
    Ok(Resolved {
        session,
        remote,
        digest,
        manifest,
        config,
    })
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex[..hex.len().min(12)].to_string()
}

/// Fetch what the store lacks and commit the image; returns its id.
pub async fn fetch<S: HasStore>(
    s: Arc<S>,
    r: Resolved,
    progress: &Progress,
) -> Result<String, RegistryError> {
    let what = r.remote.display();
    let config: ImageConfig = serde_json::from_slice(&r.config).map_err(|e| {
        RegistryError::Protocol(format!("the image config of {what} is malformed: {e}"))
    })?;
    let diff_ids = config.rootfs.diff_ids.clone();
    if diff_ids.len() != r.manifest.layers.len() {
        return Err(RegistryError::Protocol(format!(
            "{what}: its manifest lists {} layers and its config {}: refusing it",
            r.manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let tag_or_digest = r.remote.tag.clone().unwrap_or_else(|| r.digest.clone());
    progress.layer(
        &tag_or_digest,
        &format!("Pulling from {}", r.remote.repository),
    );
    let store = s.store();
    let id = r.image_id().to_string();
    let tagged = r.remote.tagged();
    let up_to_date = store.resolve(&id).ok().is_some_and(|img| match &tagged {
        Some(t) => img.repo_tags.contains(t),
        None => true,
    });
    let mut missing = Vec::new();
    for (layer, diff_id) in r.manifest.layers.iter().zip(&diff_ids) {
        if store.layer(diff_id).is_ok() {
            progress.layer(&short(&layer.digest), "Already exists");
        } else {
            progress.layer(&short(&layer.digest), "Pulling fs layer");
            missing.push((layer.clone(), diff_id.clone()));
        }
    }
    let scratch = store.scratch("pull")?;
    let mut prepared = Vec::new();
    for (layer, diff_id) in &missing {
        let id = short(&layer.digest);
        let path = scratch.path().join(layer.digest.replace(':', "-"));
        download(&r.session, layer, &path, &id, progress).await?;
        progress.layer(&id, "Extracting");
        let s2 = s.clone();
        let p2 = path.clone();
        let layer_prepared = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&p2).map_err(|e| {
                RegistryError::Io(format!(
                    "reading the downloaded layer {}: {e}",
                    p2.display()
                ))
            })?;
            s2.store().prepare_layer(f).map_err(RegistryError::from)
        })
        .await
        .map_err(|e| RegistryError::Io(format!("unpacking a layer: {e}")))??;
        let _ = std::fs::remove_file(&path);
        if &layer_prepared.diff_id() != diff_id {
            return Err(RegistryError::Protocol(format!(
                "layer {} of {what} unpacks to {}, but the image config says {diff_id}: refusing the image",
                layer.digest,
                layer_prepared.diff_id()
            )));
        }
        progress.layer(&id, "Pull complete");
        prepared.push(layer_prepared);
    }
    drop(scratch);
    let staged = StagedImage {
        config_json: r.config.to_vec(),
        tags: tagged.clone().into_iter().collect(),
    };
    let s2 = s.clone();
    let images = tokio::task::spawn_blocking(move || s2.store().commit_images(prepared, &[staged]))
        .await
        .map_err(|e| RegistryError::Io(format!("storing the image: {e}")))??;
    let image_id = images.first().map(|i| i.id.clone()).unwrap_or(id);
    store.add_repo_digest(&r.remote.name(), &r.digest, &image_id)?;
    let seen: Vec<(String, Seen)> = r
        .manifest
        .layers
        .iter()
        .zip(&diff_ids)
        .map(|(l, d)| {
            (
                d.clone(),
                Seen {
                    registry: r.remote.registry.clone(),
                    repository: r.remote.repository.clone(),
                    digest: l.digest.clone(),
                    size: l.size,
                },
            )
        })
        .collect();
    known::remember(store, &seen);
    progress.status(&format!("Digest: {}", r.digest));
    let shown = tagged.unwrap_or_else(|| r.remote.display());
    if up_to_date {
        progress.status(&format!("Status: Image is up to date for {shown}"));
    } else {
        progress.status(&format!("Status: Downloaded newer image for {shown}"));
    }
    Ok(image_id)
}

/// Stream a blob into `path`, checking its size and digest.
async fn download(
    session: &Session,
    layer: &manifest::Descriptor,
    path: &std::path::Path,
    id: &str,
    progress: &Progress,
) -> Result<(), RegistryError> {
    let resp = session.blob(&layer.digest).await?;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| RegistryError::Io(format!("creating {}: {e}", path.display())))?;
    let mut body = resp.into_body();
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    let mut shown = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            RegistryError::Protocol(format!(
                "downloading {}: broke off after {got} bytes: {e}",
                layer.digest
            ))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        got += data.len() as u64;
        if got > layer.size {
            return Err(RegistryError::Protocol(format!(
                "blob {} is larger than the {} bytes its manifest says: refusing it",
                layer.digest, layer.size
            )));
        }
        hasher.update(&data);
        file.write_all(&data)
            .await
            .map_err(|e| RegistryError::Io(format!("writing {}: {e}", path.display())))?;
        if got - shown >= 512 * 1024 || got == layer.size {
            progress.bytes(id, "Downloading", got, layer.size);
            shown = got;
        }
    }
    file.sync_all()
        .await
        .map_err(|e| RegistryError::Io(format!("writing {}: {e}", path.display())))?;
    progress.layer(id, "Verifying Checksum");
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if digest != layer.digest || got != layer.size {
        return Err(RegistryError::Protocol(format!(
            "blob {} arrived with the digest {digest} and {got} bytes (expected {} bytes): refusing it",
            layer.digest, layer.size
        )));
    }
    progress.layer(id, "Download complete");
    Ok(())
}

/// `GET /distribution/{name}/json`: what `reference` resolves to, in
/// Docker's shape (`Descriptor`, `Platforms`).
pub async fn describe(
    config: &RegistryConfig,
    reference: &str,
    creds: Option<Credentials>,
) -> Result<serde_json::Value, RegistryError> {
    let remote = RemoteRef::parse(reference)?;
    let session = Session::open(config, &remote.registry, &remote.repository, creds, false).await?;
    let what = remote.display();
    let (bytes, media_type, digest) = session.manifest(remote.reference()).await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let platforms: Vec<serde_json::Value> = match manifest::parse(&bytes, &media_type, &what) {
        Ok(Fetched::Image(m)) => {
            let resp = session.blob(&m.config.digest).await?;
            let cfg = super::http::read_body(resp, MAX_CONFIG).await?;
            let c: serde_json::Value = serde_json::from_slice(&cfg).unwrap_or_default();
            let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            vec![serde_json::json!({ "architecture": s("architecture"), "os": s("os") })]
        }
        _ => v
            .get("manifests")
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("platform").cloned())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let media_type = if media_type.is_empty() {
        v.get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string()
    } else {
        media_type
    };
    Ok(serde_json::json!({
        "Descriptor": { "mediaType": media_type, "digest": digest, "size": bytes.len() },
        "Platforms": platforms,
    }))
}
