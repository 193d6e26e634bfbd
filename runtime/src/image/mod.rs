//! Content-addressed image store.
//!
//! ```text
//! <root>/image/
//!   lock                      flock held while the store changes
//!   layers/<hex>/diff/        each layer unpacked once, shared by every image
//!   layers/<hex>/tar-split.gz the rest of its tar: headers and padding, file
//!                             data by reference (see `tarsplit`: the layer is
//!                             written once, its tar replayed by `layer_tar`)
//!   layers/<hex>/tar-split-keep/<n>  data a later entry of the same tar
//!                             replaced or whited out (rare)
//!   layers/<hex>/size         unpacked size in bytes
//!   layers/<hex>/newest-mtime newest entry mtime in the layer (unix seconds)
//!   layers/<hex>/tar-size     the tar's length in bytes
//!   l/<short hex>             symlink to ../layers/<hex>/diff (see `layer_dirs`)
//!   configs/<hex>.json        image configs; image id = sha256 of these bytes
//!   tmp/<what>-<pid>-<rand>/  scratch: a layer being unpacked (renamed to
//!                             layers/<hex> when done), a spooled tar, an
//!                             upload being loaded
//!   repositories.json         tag index: {"busybox:latest": "sha256:<hex>"}
//!   blobs/sha256/<hex>        layer tars of a store made by an older whale
//!                             (read by `layer_tar` when present; no longer written)
//! ```
//!
//! CONTRACT used by the daemon (api/container rooms):
//!
//! ```ignore
//! impl Store {
//!     pub fn open(image_root: &Path) -> Result<Store, ImageError>;
//!     /// `name` (= name:latest), `name:tag`, `sha256:<hex>`, `<hex>` or a unique id prefix.
//!     pub fn resolve(&self, reference: &str) -> Result<Image, ImageError>;   // NotFound -> 404
//!     pub fn list(&self) -> Result<Vec<Image>, ImageError>;
//!     /// Diff dirs of the image's layers, TOP-most first (overlay lowerdir order).
//!     pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError>;
//!     /// Store a rootfs tar as a one-layer image, apply `changes` (Dockerfile
//!     /// lines: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE) and tag it.
//!     pub fn import_rootfs(&self, tar: impl Read, reference: Option<&str>, changes: &[String], comment: &str) -> Result<Image, ImageError>;
//!     pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError>;
//!     /// `docker rmi`: untag, and delete the image (and layers no one else uses)
//!     /// when its last tag goes; `in_use(image_id)` says a container needs it (409 unless force).
//!     pub fn remove(&self, reference: &str, force: bool, in_use: &dyn Fn(&str) -> bool) -> Result<Vec<Removed>, ImageError>;
//! }
//! ```
//!
//! Also (builder, save/load, bootstrap):
//!
//! ```ignore
//! impl Store {
//!     pub fn add_layer(&self, tar: impl Read) -> Result<Layer, ImageError>;            // plain or gzip tar
//!     pub fn create_image(&self, config: &ImageConfig, reference: Option<&str>) -> Result<Image, ImageError>;
//!     pub fn create_image_from_bytes(&self, config_json: &[u8], reference: Option<&str>) -> Result<Image, ImageError>;
//!     pub fn layer(&self, diff_id: &str) -> Result<Layer, ImageError>;
//!     pub fn config_bytes(&self, image: &Image) -> Result<Vec<u8>, ImageError>;       // exact bytes of the id
//!     pub fn layer_tar(&self, diff_id: &str) -> Result<LayerTar, ImageError>;         // the layer's tar, exact bytes
//!     pub fn add_layer_from_dir(&self, dir: &Path) -> Result<Layer, ImageError>;      // a dir (upper) as a layer, one pass
//!     pub fn root(&self) -> &Path;
//! }
//! ImageError::status_code(&self) -> u16   // 404 / 409 / 400 / 500
//! extract::write_layer_tar(dir, out)       // a directory (e.g. an upper dir) as a layer tar
//! bootstrap::{busybox_rootfs_tar, debian_rootfs_tar, changes_for, default_reference, try_install_busybox_static, try_install_mmdebstrap}
//! ```
//!
//! Consistency: every change happens under the store lock (an in-process
//! mutex plus `flock` on `lock`) and every file appears atomically (temp +
//! rename), so a reader never sees half a layer or half a config. Readers
//! take no lock: they use an in-memory index (`index`), read in full at
//! `open` and then updated in place by each change, so a change costs the
//! same among 900 images as in an empty store. Three `stat`s per call
//! (`repositories.json`, `configs/`, `layers/`) tell whether another
//! process changed the store since; only then is it read again in full
//! (every tag change rewrites `repositories.json`, so even a change within
//! one mtime tick gives it a new inode).
//!
//! Deliberate differences from Docker:
//! - `import_rootfs` dates the image by the newest mtime in its tar (capped at
//!   now), not the import time: the same tar and changes always give the same
//!   image id, so re-importing (and re-bootstrapping) dedupes.
//! - `remove --force` never deletes an image a container uses (its layers are
//!   that container's lower dirs): it only untags it.
//! - Layers are garbage-collected when an image that used them is removed.
//!   A layer returned by `add_layer` but not yet referenced by an image is
//!   pinned (in this process, for an hour) so that a concurrent removal does
//!   not collect it before `create_image` references it.

pub mod archive;
pub mod changes;
pub mod config;
pub mod digests;
pub mod extract;
mod index;
pub mod limits;
mod staging;
pub mod tarscan;
mod tarsplit;
pub mod usage;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::{write_atomic, write_json_atomic, LockFile};
pub use config::{History, ImageConfig, RootFs, RunConfig};
use index::{find, image_of, load_index, Index, Stamp};
pub use limits::Limits;
use reference::{parse_lookup, parse_tag, Reference};
pub use staging::{PreparedLayer, Scratch, StagedImage};
pub use whale_formats::reference;

/// Names tried for a layer's short link, in order (see `short_link`).
const SHORT_LINK_LENGTHS: [usize; 3] = [6, 10, 64];

/// The most layers an image may have. overlayfs stacks at most 500 lower
/// dirs (the kernel's `OVL_MAX_STACK`) and a container puts its init layer
/// above its image's, so an image of 500 layers could be built but never
/// run: the store refuses to create it (build, commit, load, import all
/// end in `create_image` or `commit_images`), naming the limit.
pub const MAX_IMAGE_LAYERS: usize = 499;

/// How long a freshly added, unreferenced layer is protected from GC.
const PIN_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// HTTP 404.
    #[error("No such image: {0}")]
    NotFound(String),
    /// HTTP 400: an id prefix that matches several images.
    #[error("ambiguous image id prefix {prefix:?}: it matches {count} images; give more characters of the id")]
    Ambiguous { prefix: String, count: usize },
    /// HTTP 400.
    #[error(transparent)]
    InvalidReference(#[from] whale_formats::reference::InvalidReference),
    /// HTTP 400: a bad change line, config, or input stream.
    #[error("{0}")]
    BadInput(String),
    /// HTTP 409: the image is in use or has several tags.
    #[error("{0}")]
    Conflict(String),
    /// HTTP 400: the layer tar is unsafe or unreadable.
    #[error("{0}")]
    Layer(#[from] extract::ExtractError),
    /// HTTP 500.
    #[error("image store: cannot {action} {path:?}: {source}")]
    Io {
        action: String,
        path: PathBuf,
        source: io::Error,
    },
    /// HTTP 500: writing an archive (`save`) failed, e.g. the client left.
    #[error("writing the image archive: {0}")]
    Write(io::Error),
    /// HTTP 500: the store on disk is damaged.
    #[error("image store is damaged: {0}")]
    Corrupt(String),
}

impl ImageError {
    /// The HTTP status the Docker API uses for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            ImageError::NotFound(_) => 404,
            ImageError::Conflict(_) => 409,
            ImageError::Ambiguous { .. }
            | ImageError::InvalidReference(_)
            | ImageError::BadInput(_)
            | ImageError::Layer(_) => 400,
            ImageError::Io { .. } | ImageError::Write(_) | ImageError::Corrupt(_) => 500,
        }
    }
}

fn io_err(action: &str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let action = action.to_string();
    let path = path.to_path_buf();
    move |source| ImageError::Io {
        action,
        path,
        source,
    }
}

/// An image as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    /// `sha256:<64 hex>`: the sha256 of the stored config bytes.
    pub id: String,
    pub config: ImageConfig,
    /// Familiar `name:tag`s, sorted.
    pub repo_tags: Vec<String>,
    /// Sum of the unpacked sizes of its layers, bytes.
    pub size: u64,
    /// `config.created` as unix seconds (0 when absent).
    pub created: i64,
}

impl Image {
    /// The 64 hex digits of the id.
    pub fn hex(&self) -> &str {
        self.id.strip_prefix("sha256:").unwrap_or(&self.id)
    }
    /// The 12-hex short id `docker images` shows.
    pub fn short_id(&self) -> &str {
        let h = self.hex();
        &h[..h.len().min(12)]
    }
}

/// One item of Docker's `DELETE /images/{name}` response:
/// `{"Untagged": "busybox:latest"}` or `{"Deleted": "sha256:..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

/// A layer in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Unpacked size, bytes.
    pub size: u64,
    /// Newest entry mtime in the layer, unix seconds.
    pub newest_mtime: u64,
}

/// A layer's tar as `Store::layer_tar` gives it: `len` bytes to read.
/// Reading past the last byte of a replayed tar checks its sha256 and
/// fails if it is not the diff_id (a damaged store), so read to the end.
pub struct LayerTar {
    pub len: u64,
    reader: Box<dyn Read + Send>,
}

impl Read for LayerTar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// The Docker/OCI name of the host's CPU architecture.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub struct Store {
    root: PathBuf,
    write: Mutex<()>,
    cache: Mutex<Index>,
    pins: Mutex<HashMap<String, Instant>>,
    limits: Limits,
}

/// Held while the store changes: the in-process mutex and the flock.
struct WriteGuard<'a> {
    _file: LockFile,
    _mutex: MutexGuard<'a, ()>,
}

impl Store {
    /// Open (creating if needed) the store at `image_root` (`<root>/image`),
    /// with the limits of the `WHALE_MAX_*` environment (see `limits`).
    pub fn open(image_root: &Path) -> Result<Store, ImageError> {
        Self::open_with_limits(image_root, Limits::from_env()?)
    }

    /// `open` with these limits.
    pub fn open_with_limits(image_root: &Path, limits: Limits) -> Result<Store, ImageError> {
        for d in ["blobs/sha256", "layers", "configs", staging::SCRATCH_DIR] {
            let p = image_root.join(d);
            fs::create_dir_all(&p).map_err(io_err("create directory", &p))?;
        }
        let store = Store {
            root: image_root.to_path_buf(),
            write: Mutex::new(()),
            cache: Mutex::new(Index::default()),
            pins: Mutex::new(HashMap::new()),
            limits,
        };
        {
            let _g = store.lock()?;
            store.clean_stale_temps();
        }
        drop(store.snapshot()?);
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The limits this store enforces on what comes from outside.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> {
        if reference.contains('@') {
            return self.resolve_digest(reference);
        }
        let idx = self.snapshot()?;
        let (id, _) = find(&idx, reference)?;
        image_of(&idx, &id)
    }

    /// All images, newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let idx = self.snapshot()?;
        let mut v: Vec<Image> = idx.images.values().cloned().collect();
        v.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(v)
    }

    pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        let idx = self.snapshot()?;
        image
            .config
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .map(|d| {
                let hex = diff_hex(d)?;
                if !idx.layers.contains_key(hex) {
                    return Err(ImageError::Corrupt(format!(
                        "layer {d} of image {} is missing; remove the image and import it again",
                        image.short_id()
                    )));
                }
                self.short_link(hex)
            })
            .collect()
    }

    /// `l/<first 6 hex>` -> `../layers/<hex>/diff`, as Docker's overlay2
    /// keeps short links: the shim passes lower dirs relative to their
    /// common parent, so 7 bytes a layer let the kernel's 500-layer limit
    /// fit in the one page of mount options (full paths stop at ~55).
    /// A prefix taken by another layer moves on to a longer name.
    fn short_link(&self, hex: &str) -> Result<PathBuf, ImageError> {
        let dir = self.root.join("l");
        let target = Path::new("../layers").join(hex).join("diff");
        for len in SHORT_LINK_LENGTHS {
            let link = dir.join(&hex[..len.min(hex.len())]);
            match fs::read_link(&link) {
                Ok(t) if t == target => return Ok(link),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
                    match std::os::unix::fs::symlink(&target, &link) {
                        Ok(()) => return Ok(link),
                        // Another process made it first: look again.
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            if fs::read_link(&link).is_ok_and(|t| t == target) {
                                return Ok(link);
                            }
                        }
                        Err(e) => return Err(io_err("create symlink", &link)(e)),
                    }
                }
                Err(e) => return Err(io_err("read link", &link)(e)),
            }
        }
        Ok(self.root.join("layers").join(hex).join("diff"))
    }

    /// The exact config bytes the id is the sha256 of (for `save`).
    pub fn config_bytes(&self, image: &Image) -> Result<Vec<u8>, ImageError> {
        let p = self
            .root
            .join("configs")
            .join(format!("{}.json", image.hex()));
        fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(image.id.clone()),
            _ => io_err("read", &p)(e),
        })
    }

    /// A layer's (uncompressed) tar, exactly the bytes its diff_id is the
    /// sha256 of: the one way to read a layer as a tar (`save`, `push`).
    /// Replayed from its tar-split and unpacked files (`tarsplit`), or read
    /// from its blob in a store made before layers were written once.
    pub fn layer_tar(&self, diff_id: &str) -> Result<LayerTar, ImageError> {
        let hex = diff_hex(diff_id)?;
        let missing = || ImageError::NotFound(format!("layer {diff_id}"));
        let blob = self.root.join("blobs/sha256").join(hex);
        match File::open(&blob) {
            Ok(f) => {
                let len = f.metadata().map_err(io_err("inspect", &blob))?.len();
                return Ok(LayerTar {
                    len,
                    reader: Box::new(f),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("open", &blob)(e)),
        }
        let dir = self.root.join("layers").join(hex);
        let size_file = dir.join(staging::TAR_SIZE_FILE);
        let len = match fs::read_to_string(&size_file) {
            Ok(s) => s.trim().parse().map_err(|_| {
                ImageError::Corrupt(format!("{} is not a number", size_file.display()))
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => return Err(io_err("read", &size_file)(e)),
        };
        let reader = tarsplit::LayerTarReader::open(&dir, hex).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => missing(),
            _ => io_err("open the tar-split of", &dir)(e),
        })?;
        Ok(LayerTar {
            len,
            reader: Box::new(reader),
        })
    }

    /// A layer already in the store.
    pub fn layer(&self, diff_id: &str) -> Result<Layer, ImageError> {
        let idx = self.snapshot()?;
        let hex = diff_hex(diff_id)?;
        idx.layers
            .get(hex)
            .map(|m| Layer {
                diff_id: format!("sha256:{hex}"),
                size: m.size,
                newest_mtime: m.newest_mtime,
            })
            .ok_or_else(|| ImageError::NotFound(format!("layer {diff_id}")))
    }

    /// Store a layer tar (gzip is decompressed): blob by sha256, unpacked
    /// once. Returns the existing layer when the same tar was added before.
    /// Reference it with `create_image` soon (it is pinned until then).
    pub fn add_layer(&self, tar: impl Read) -> Result<Layer, ImageError> {
        let prepared = self.prepare_layer(tar)?;
        self.commit_layer(prepared)
    }

    /// Store `config` (serialized compactly) as an image; tag it when
    /// `reference` is given. Every diff_id must be in the store.
    pub fn create_image(
        &self,
        config: &ImageConfig,
        reference: Option<&str>,
    ) -> Result<Image, ImageError> {
        let bytes = serde_json::to_vec(config)
            .map_err(|e| ImageError::BadInput(format!("image config: {e}")))?;
        self.create_image_from_bytes(&bytes, reference)
    }

    /// Store these exact config bytes (e.g. from a docker-archive, so the id
    /// stays the same) as an image; tag it when `reference` is given.
    pub fn create_image_from_bytes(
        &self,
        config_json: &[u8],
        reference: Option<&str>,
    ) -> Result<Image, ImageError> {
        let tag = reference.map(parse_tag).transpose()?;
        let config = parse_config(config_json)?;
        let hex = hex::encode(Sha256::digest(config_json));
        let id = format!("sha256:{hex}");
        self.change(|idx| {
            self.check_depth(&config)?;
            for d in &config.rootfs.diff_ids {
                if !idx.layers.contains_key(diff_hex(d)?) {
                    return Err(ImageError::BadInput(format!(
                        "layer {d} of the image config is not in the store; add its tar first"
                    )));
                }
            }
            let path = self.root.join("configs").join(format!("{hex}.json"));
            if !idx.images.contains_key(&id) {
                write_atomic(&path, config_json).map_err(io_err("write", &path))?;
                idx.insert_image(&id, config.clone());
            }
            if let Some(t) = tag {
                idx.set_tag(&t, &id);
                self.write_tags(&idx.tags)?;
            }
            Ok(())
        })?;
        for d in &config.rootfs.diff_ids {
            if let Ok(h) = diff_hex(d) {
                self.unpin(h);
            }
        }
        let idx = self.snapshot()?;
        image_of(&idx, &id)
    }

    /// `docker import`: a rootfs tar becomes a one-layer image.
    pub fn import_rootfs(
        &self,
        tar: impl Read,
        reference: Option<&str>,
        changes: &[String],
        comment: &str,
    ) -> Result<Image, ImageError> {
        // Check the cheap inputs before receiving a possibly large tar.
        if let Some(r) = reference {
            parse_tag(r)?;
        }
        let mut run = RunConfig::default();
        changes::apply_changes(&mut run, changes)?;
        let layer = self.add_layer(tar)?;
        let now = chrono::Utc::now().timestamp();
        let secs = i64::try_from(layer.newest_mtime).unwrap_or(now).min(now);
        let created = chrono::DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let comment = if comment.is_empty() {
            "Imported from -"
        } else {
            comment
        };
        let config = ImageConfig {
            architecture: host_architecture().to_string(),
            os: "linux".to_string(),
            created: Some(created.clone()),
            comment: Some(comment.to_string()),
            config: run,
            rootfs: RootFs {
                kind: "layers".to_string(),
                diff_ids: vec![layer.diff_id.clone()],
            },
            history: vec![History {
                created: Some(created),
                comment: Some(comment.to_string()),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.create_image(&config, reference)
    }

    /// `docker tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let target = parse_tag(target)?;
        self.change(|idx| {
            let (id, _) = find(idx, source)?;
            idx.set_tag(&target, &id);
            self.write_tags(&idx.tags)
        })
    }

    /// `docker rmi` (see the module doc for how `force` differs from Docker).
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Removed>, ImageError> {
        if reference.contains('@') {
            return self.remove_digest(reference, force, in_use);
        }
        self.change(|idx| self.remove_locked(idx, reference, force, in_use))
    }

    fn remove_locked(
        &self,
        idx: &mut Index,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Removed>, ImageError> {
        let (id, by_id) = find(idx, reference)?;
        let image = image_of(idx, &id)?;
        let short = image.short_id().to_string();
        let mut out = Vec::new();
        if !by_id {
            let tag = match parse_lookup(reference)?.primary {
                Reference::Tag(t) => t,
                _ => return Err(ImageError::NotFound(reference.to_string())),
            };
            let last = image.repo_tags.len() <= 1;
            let used = in_use(&id);
            if last && used && !force {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference {reference:?} (must force) - a container is using its referenced image {short}"
                )));
            }
            idx.remove_tag(&tag);
            out.push(Removed::Untagged(tag));
            if !last || used {
                self.write_tags(&idx.tags)?;
                return Ok(out);
            }
        } else {
            if image.repo_tags.len() > 1 && !force {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            if in_use(&id) {
                if !force || image.repo_tags.is_empty() {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to delete {short} ({}) - image is being used by a container; remove the container first",
                        if force { "cannot be forced" } else { "must be forced" }
                    )));
                }
                for t in &image.repo_tags {
                    idx.remove_tag(t);
                    out.push(Removed::Untagged(t.clone()));
                }
                self.write_tags(&idx.tags)?;
                return Ok(out);
            }
            for t in &image.repo_tags {
                idx.remove_tag(t);
                out.push(Removed::Untagged(t.clone()));
            }
        }
        // Delete the image: tags first, then its config, then its layers
        // that no other image uses.
        self.write_tags(&idx.tags)?;
        let cfg = self
            .root
            .join("configs")
            .join(format!("{}.json", image.hex()));
        fs::remove_file(&cfg).map_err(io_err("remove", &cfg))?;
        out.extend(self.drop_digests_locked(&id));
        idx.remove_image(&id);
        out.push(Removed::Deleted(id.clone()));
        let mut seen = Vec::new();
        for d in &image.config.rootfs.diff_ids {
            let Ok(hex) = diff_hex(d) else { continue };
            if seen.contains(&hex) {
                continue;
            }
            seen.push(hex);
            let used_elsewhere = idx.images.values().any(|other| {
                other
                    .config
                    .rootfs
                    .diff_ids
                    .iter()
                    .any(|od| diff_hex(od).ok() == Some(hex))
            });
            if used_elsewhere || self.pinned(hex) {
                continue;
            }
            self.delete_layer(hex)?;
            idx.remove_layer(hex);
            out.push(Removed::Deleted(format!("sha256:{hex}")));
        }
        Ok(out)
    }

    // ---- internals -------------------------------------------------------

    /// Refuse an image deeper than `MAX_IMAGE_LAYERS`.
    fn check_depth(&self, config: &ImageConfig) -> Result<(), ImageError> {
        let n = config.rootfs.diff_ids.len();
        if n > MAX_IMAGE_LAYERS {
            return Err(ImageError::BadInput(format!(
                "the image would have {n} layers; whale's limit is {MAX_IMAGE_LAYERS}: overlayfs stacks at most 500 layers and a container adds one of its own; combine steps (e.g. RUN a && b) to use fewer layers"
            )));
        }
        Ok(())
    }

    fn lock(&self) -> Result<WriteGuard<'_>, ImageError> {
        let mutex = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let p = self.root.join("lock");
        let file = LockFile::lock(&p).map_err(io_err("lock", &p))?;
        Ok(WriteGuard {
            _file: file,
            _mutex: mutex,
        })
    }

    fn pin(&self, hex: &str) {
        self.pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hex.to_string(), Instant::now());
    }

    fn unpin(&self, hex: &str) {
        self.pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(hex);
    }

    fn pinned(&self, hex: &str) -> bool {
        self.pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hex)
            .is_some_and(|t| t.elapsed() < PIN_TTL)
    }

    fn delete_layer(&self, hex: &str) -> Result<(), ImageError> {
        let target = Path::new("../layers").join(hex).join("diff");
        for len in SHORT_LINK_LENGTHS {
            let link = self.root.join("l").join(&hex[..len.min(hex.len())]);
            if fs::read_link(&link).is_ok_and(|t| t == target) {
                let _ = fs::remove_file(&link);
            }
        }
        let dir = self.root.join("layers").join(hex);
        // Rename first so a crash mid-delete never leaves a half layer
        // under its real name.
        let doomed = self.root.join(staging::SCRATCH_DIR).join(temp_name());
        match fs::rename(&dir, &doomed) {
            Ok(()) => fs::remove_dir_all(&doomed).map_err(io_err("remove", &doomed))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &dir)(e)),
        }
        let blob = self.root.join("blobs/sha256").join(hex);
        match fs::remove_file(&blob) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &blob)(e)),
            _ => Ok(()),
        }
    }

    fn write_tags(&self, tags: &BTreeMap<String, String>) -> Result<(), ImageError> {
        let p = self.root.join("repositories.json");
        write_json_atomic(&p, tags).map_err(io_err("write", &p))
    }

    fn stamp(&self) -> Result<Stamp, ImageError> {
        let dir_stamp = |name: &str| -> Result<(i64, i64), ImageError> {
            let p = self.root.join(name);
            let m = fs::metadata(&p).map_err(io_err("inspect", &p))?;
            Ok((m.mtime(), m.mtime_nsec()))
        };
        let repo = fs::metadata(self.root.join("repositories.json"))
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()));
        Ok(Stamp {
            repo,
            configs: dir_stamp("configs")?,
            layers: dir_stamp("layers")?,
        })
    }

    /// The index, reloaded when the disk changed since it was loaded.
    fn snapshot(&self) -> Result<MutexGuard<'_, Index>, ImageError> {
        // The stamp is taken holding the index: a change of this process
        // (which holds it while it works) is then wholly before or after,
        // and a read racing a build step never mistakes it for another
        // process's and reloads.
        let mut idx = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let stamp = self.stamp()?;
        if idx.stamp != Some(stamp) {
            *idx = load_index(&self.root)?;
            idx.stamp = Some(stamp);
        }
        Ok(idx)
    }

    /// Run a change under the store lock on a fresh index: `f` changes
    /// the disk and updates the index in place to match, and the stamp is
    /// taken again after it (under the lock, so it is this change's). A
    /// change that fails half-way leaves the index without a stamp, so the
    /// next read reloads it from disk rather than trust a half update.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut Index) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        let _g = self.lock()?;
        let stamp = self.stamp()?;
        let mut idx = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if idx.stamp != Some(stamp) {
            *idx = load_index(&self.root)?;
        }
        idx.stamp = None;
        let out = f(&mut idx)?;
        idx.stamp = Some(self.stamp()?);
        Ok(out)
    }
}

fn temp_name() -> String {
    format!("tmp-{}-{:016x}", std::process::id(), rand::random::<u64>())
}

fn diff_hex(diff_id: &str) -> Result<&str, ImageError> {
    let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(hex)
    } else {
        Err(ImageError::BadInput(format!(
            "{diff_id:?} is not a sha256:<64 hex> layer id"
        )))
    }
}

/// An image config from outside: JSON of the right shape, layers rootfs.
/// Whether `reference` can tag an image (checked before work that would
/// otherwise be thrown away).
pub fn check_tag(reference: &str) -> Result<(), ImageError> {
    parse_tag(reference)?;
    Ok(())
}

pub(crate) fn parse_config(config_json: &[u8]) -> Result<ImageConfig, ImageError> {
    let config: ImageConfig = serde_json::from_slice(config_json).map_err(|e| {
        ImageError::BadInput(format!(
            "the image config is not valid JSON of an image config: {e}"
        ))
    })?;
    if config.rootfs.kind != "layers" {
        return Err(ImageError::BadInput(format!(
            "image config rootfs.type is {:?}; only \"layers\" is supported",
            config.rootfs.kind
        )));
    }
    for d in &config.rootfs.diff_ids {
        diff_hex(d)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o755);
            h.set_mtime(1_650_000_000);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn prefix_lookup_is_unique_or_ambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut ids = Vec::new();
        // Enough images that some two share a first hex digit.
        for i in 0..20 {
            let tar = tar_with(&[(&format!("f{i}"), b"x")]);
            ids.push(store.import_rootfs(&tar[..], None, &[], "").unwrap().id);
        }
        let hexes: Vec<&str> = ids.iter().map(|i| &i[7..]).collect();
        let shared = hexes
            .iter()
            .find(|h| {
                hexes
                    .iter()
                    .filter(|o| o.as_bytes()[0] == h.as_bytes()[0])
                    .count()
                    > 1
            })
            .expect("20 ids over 16 digits share a first digit");
        let err = store.resolve(&shared[..1]).unwrap_err();
        assert!(matches!(err, ImageError::Ambiguous { .. }), "{err}");
        assert_eq!(err.status_code(), 400);
        assert_eq!(store.resolve(&shared[..12]).unwrap().hex(), *shared);
        assert_eq!(
            store
                .resolve(&format!("sha256:{}", &shared[..12]))
                .unwrap()
                .hex(),
            *shared
        );
        let err = store.resolve("nosuchimage").unwrap_err();
        assert_eq!(err.to_string(), "No such image: nosuchimage:latest");
        assert_eq!(err.status_code(), 404);
    }

    #[test]
    fn gzip_input_hashes_the_uncompressed_tar() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tar = tar_with(&[("a", b"hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let l1 = store.add_layer(&gz[..]).unwrap();
        let l2 = store.add_layer(&tar[..]).unwrap();
        assert_eq!(l1, l2);
        assert_eq!(
            l1.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
        );
        assert_eq!(l1.size, 5);
    }

    #[test]
    fn garbage_and_empty_input_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .import_rootfs(&b""[..], Some("x"), &[], "")
            .unwrap_err();
        assert_eq!(err.status_code(), 400, "{err}");
        let err = store
            .import_rootfs(&[7u8; 2048][..], Some("x"), &[], "")
            .unwrap_err();
        assert_eq!(err.status_code(), 400, "{err}");
        assert!(store.list().unwrap().is_empty());
        // Nothing left behind: no blob, no layer, no temp.
        for d in ["blobs/sha256", "layers"] {
            assert_eq!(
                fs::read_dir(dir.path().join(d)).unwrap().count(),
                0,
                "{d} not empty"
            );
        }
        assert_eq!(fs::read_dir(dir.path().join("blobs")).unwrap().count(), 1);
    }
}
