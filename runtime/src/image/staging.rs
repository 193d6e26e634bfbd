//! Two-phase writes into the store: a layer is first *prepared* (its tar
//! hashed and unpacked, with its tar-split, into `tmp/tmp-<pid>-<rand>/`)
//! outside the lock, then *committed* (renamed to `layers/<hex>`) under it.
//! A tar from outside is spooled to `tmp/` first so that its headers are
//! scanned (`tarscan`) before anything is unpacked; the spool is dropped
//! once unpacked (the layer is kept once: see `tarsplit`). A directory of
//! whale's own (a build step's or a commit's upper dir) is tarred, hashed
//! and unpacked in one pass (`add_layer_from_dir`). `load` prepares every
//! layer of an archive, checks them against the configs, and commits
//! layers, configs and all tags in one locked step with one write of the
//! tag index, so a refused, failed or killed load leaves nothing behind:
//! temps are removed on drop, and those of a process that died are removed
//! when the store next opens.
//!
//! Scratch dirs (`tmp/<purpose>-<pid>-<rand>/`, e.g. the upload a load
//! spools) follow the same rule.

use super::extract;
use super::index::read_layer_meta;
use super::index::Index;
use super::limits::exceeded;
use super::tarscan::{scan, ScanLimits};
use super::tarsplit::{Recorder, SplitHooks, SplitWriter};
use super::{diff_hex, image_of, io_err, parse_tag, temp_name, Image, ImageError, Layer, Store};
use crate::fsutil::write_atomic;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// The layer tar's length in bytes, kept with the layer (`save` needs it
/// before the tar is replayed).
pub(super) const TAR_SIZE_FILE: &str = "tar-size";

/// Removes a temp file or dir on drop unless kept.
pub(super) struct TempPath(pub(super) Option<PathBuf>);

impl TempPath {
    pub(super) fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
    pub(super) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                Ok(_) => {
                    let _ = fs::remove_file(&p);
                }
                Err(_) => {}
            }
        }
    }
}

/// A scratch directory under the store, removed (with its contents) on drop.
pub struct Scratch(TempPath);

impl Scratch {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A layer received and unpacked into temps, not yet in the store.
pub struct PreparedLayer {
    pub hex: String,
    /// Bytes of the uncompressed tar.
    pub tar_bytes: u64,
    /// None when the layer was already in the store.
    dir: Option<TempPath>,
}

impl PreparedLayer {
    pub fn diff_id(&self) -> String {
        format!("sha256:{}", self.hex)
    }
}

/// An image ready to be committed by `commit_images`.
pub struct StagedImage {
    pub config_json: Vec<u8>,
    pub tags: Vec<String>,
}

/// Scratch dirs and layers being unpacked: not in `layers/`, whose mtime
/// is part of the index's stamp (see `index`).
pub(super) const SCRATCH_DIR: &str = "tmp";

/// The pid in a `<prefix>-<pid>-<rand>` temp name.
fn temp_pid(name: &str) -> Option<i32> {
    let (_, rest) = name.split_once('-')?;
    rest.split('-').next()?.parse().ok()
}

impl Store {
    /// A fresh scratch dir `tmp/<purpose>-<pid>-<rand>/` (mode 0700).
    pub fn scratch(&self, purpose: &str) -> Result<Scratch, ImageError> {
        let base = self.root.join(SCRATCH_DIR);
        fs::create_dir_all(&base).map_err(io_err("create directory", &base))?;
        let p = base.join(format!(
            "{purpose}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        fs::create_dir(&p).map_err(io_err("create directory", &p))?;
        let s = Scratch(TempPath(Some(p.clone())));
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(io_err("set the mode of", &p))?;
        Ok(s)
    }

    /// Remove temps and scratch dirs left by processes that died mid-write.
    /// (An older daemon's load spool under `<root>/build-tmp` goes with the
    /// rest of that dir at daemon start: `build::remove_interrupted_scratch`.)
    pub(super) fn clean_stale_temps(&self) {
        for (dir, prefix) in [("blobs", "tmp-"), ("layers", "tmp-"), (SCRATCH_DIR, "")] {
            let Ok(rd) = fs::read_dir(self.root.join(dir)) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with(prefix) {
                    continue;
                }
                let Some(pid) = temp_pid(&name) else { continue };
                if crate::linux::procfs::pid_exists(pid) {
                    continue;
                }
                drop(TempPath(Some(e.path())));
            }
        }
    }

    /// Receive a layer tar from outside (gzip is decompressed), check it,
    /// and unpack it into temps; nothing is visible in the store until
    /// `commit_layer`. The tar is spooled (not kept: see `tarsplit`) so
    /// that its headers are checked before anything is unpacked.
    pub fn prepare_layer(&self, tar: impl Read) -> Result<PreparedLayer, ImageError> {
        let lim = self.limits;
        let spool = TempPath(Some(self.root.join(SCRATCH_DIR).join(temp_name())));
        let (hex, len) = receive(tar, spool.path(), lim.layer_bytes)?;
        if len == 0 {
            return Err(ImageError::BadInput(
                "the layer tar is empty (0 bytes)".into(),
            ));
        }
        // Pin before looking: a removal that runs after this sees the pin.
        self.pin(&hex);
        let unpin = |e: ImageError| {
            self.unpin(&hex);
            e
        };
        if self.root.join("layers").join(&hex).join("size").exists() {
            return Ok(PreparedLayer {
                hex,
                tar_bytes: len,
                dir: None,
            });
        }
        // Headers first (bounded records, no sparse files, entry count),
        // then the safe extraction.
        let file = File::open(spool.path()).map_err(io_err("open", spool.path()))?;
        scan(
            BufReader::with_capacity(1 << 20, file),
            &ScanLimits {
                what: "the layer tar",
                entries: lim.layer_entries,
                entries_var: "WHALE_MAX_LAYER_ENTRIES",
                bytes: lim.layer_bytes,
                bytes_var: "WHALE_MAX_LAYER_BYTES",
            },
            |_, _| Ok(()),
        )
        .map_err(unpin)?;
        let file = File::open(spool.path()).map_err(io_err("open", spool.path()))?;
        let (hex2, _, tmp) = self
            .unpack_recorded(BufReader::with_capacity(1 << 20, file))
            .map_err(unpin)?;
        drop(spool);
        if hex2 != hex {
            self.unpin(&hex);
            return Err(ImageError::Corrupt(format!(
                "the spooled layer tar changed while it was unpacked (sha256:{hex} then sha256:{hex2})"
            )));
        }
        Ok(PreparedLayer {
            hex,
            tar_bytes: len,
            dir: Some(tmp),
        })
    }

    /// Store the directory `dir` (e.g. a container's upper dir) as a layer:
    /// its tar (`extract::write_layer_tar`) is hashed and unpacked as it is
    /// written, in one pass, and never stored (see `tarsplit`). The tar is
    /// whale's own, so the header scan of `prepare_layer` is not needed;
    /// the layer byte limit still holds. Pinned like `add_layer`'s.
    pub fn add_layer_from_dir(&self, dir: &Path) -> Result<Layer, ImageError> {
        let (reader, mut writer) = io::pipe().map_err(io_err("make a pipe for", dir))?;
        let (hex, len, tmp, written) = std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let mut w = io::BufWriter::with_capacity(1 << 20, &mut writer);
                let r = extract::write_layer_tar(dir, &mut w);
                let flushed = w.flush();
                drop(w);
                drop(writer);
                r.map_err(ImageError::from).and_then(|s| {
                    flushed
                        .map(|()| s)
                        .map_err(io_err("write the layer tar of", dir))
                })
            });
            let unpacked = self.unpack_recorded(BufReader::with_capacity(1 << 20, reader));
            let written = producer.join().unwrap_or_else(|_| {
                Err(ImageError::Corrupt("the layer tar writer panicked".into()))
            });
            match (written, unpacked) {
                (Ok(w), Ok((h, l, t))) => Ok((h, l, t, w)),
                // The reading side stopped first (a limit, a bad entry):
                // the writer only saw its pipe close.
                (Err(w), Err(e)) if broken_pipe(&w) => Err(e),
                // Otherwise the writer's error is why the tar was short.
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            }
        })?;
        drop(written);
        if len == 0 {
            return Err(ImageError::BadInput(format!(
                "{} gave an empty layer tar",
                dir.display()
            )));
        }
        self.pin(&hex);
        let exists = self.root.join("layers").join(&hex).join("size").exists();
        self.commit_layer(PreparedLayer {
            hex,
            tar_bytes: len,
            dir: (!exists).then_some(tmp),
        })
    }

    /// Hash, record (`tarsplit`) and unpack a tar in one pass into a temp
    /// layer dir: `(sha256 hex, tar bytes, the dir)`.
    fn unpack_recorded(&self, tar: impl Read) -> Result<(String, u64, TempPath), ImageError> {
        let tmp = TempPath(Some(self.root.join(SCRATCH_DIR).join(temp_name())));
        let diff = tmp.path().join("diff");
        fs::create_dir_all(&diff).map_err(io_err("create directory", &diff))?;
        // The container's `/` unless the tar has a `./` entry: never let
        // the daemon's umask decide it.
        fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_err("set the mode of", &diff))?;
        let split = SplitWriter::create(tmp.path()).map_err(io_err("create", tmp.path()))?;
        let mut hashed = Hashing {
            inner: decompressed(tar)?,
            hasher: Sha256::new(),
            len: 0,
            max: self.limits.layer_bytes,
        };
        let mut recorder = Recorder {
            inner: &mut hashed,
            w: split.clone(),
        };
        let mut hooks = SplitHooks {
            w: split.clone(),
            err: None,
        };
        let stats = extract::extract_layer_with(&mut recorder, &diff, &mut hooks)
            .map_err(|e| limit_error(e.into(), &recorder.inner.len, self.limits.layer_bytes))?;
        if let Some(e) = hooks.err.take() {
            return Err(io_err("record the tar-split of", tmp.path())(e));
        }
        // What follows the end-of-archive blocks is part of the tar too.
        io::copy(&mut recorder, &mut io::sink()).map_err(|e| {
            limit_error(
                ImageError::BadInput(format!("cannot read the tar: {e}")),
                &recorder.inner.len,
                self.limits.layer_bytes,
            )
        })?;
        split
            .borrow_mut()
            .finish()
            .map_err(io_err("write the tar-split of", tmp.path()))?;
        let len = hashed.len;
        let hex = hex::encode(hashed.hasher.finalize());
        // Not fsynced, like the unpacked files beside them (as Docker's
        // overlay2 applies a diff): syncing only these would make nothing
        // durable. Whole or absent all the same: the temp dir is renamed
        // into place only once they are written.
        for (name, value) in [
            ("size", stats.size),
            ("newest-mtime", stats.newest_mtime),
            (TAR_SIZE_FILE, len),
        ] {
            let p = tmp.path().join(name);
            fs::write(&p, value.to_string()).map_err(io_err("write", &p))?;
        }
        Ok((hex, len, tmp))
    }

    /// Move a prepared layer into place (in a `change`, under the lock).
    fn commit_locked(&self, idx: &mut Index, p: PreparedLayer) -> Result<Layer, ImageError> {
        let layer_dir = self.root.join("layers").join(&p.hex);
        if let Some(tmp) = p.dir {
            if !layer_dir.exists() {
                fs::rename(tmp.path(), &layer_dir).map_err(io_err("store layer", &layer_dir))?;
                tmp.keep();
            }
        }
        if !layer_dir.join("size").exists() {
            return Err(ImageError::Corrupt(format!(
                "layer {} vanished while it was added; try again",
                p.hex
            )));
        }
        let m = read_layer_meta(&layer_dir).ok_or_else(|| {
            ImageError::Corrupt(format!("layer {} has no readable size file", p.hex))
        })?;
        idx.insert_layer(&p.hex, m);
        Ok(Layer {
            diff_id: format!("sha256:{}", p.hex),
            size: m.size,
            newest_mtime: m.newest_mtime,
        })
    }

    /// Put a prepared layer in the store (it stays pinned until an image
    /// references it, see `create_image`).
    pub fn commit_layer(&self, p: PreparedLayer) -> Result<Layer, ImageError> {
        self.change(|idx| self.commit_locked(idx, p))
    }

    /// One locked step: the layers, then every config, then all the tags
    /// with one write of the tag index. Every config's layers must be among
    /// `layers` or already in the store; every tag is checked before
    /// anything moves.
    pub fn commit_images(
        &self,
        layers: Vec<PreparedLayer>,
        images: &[StagedImage],
    ) -> Result<Vec<Image>, ImageError> {
        let mut parsed = Vec::new();
        for img in images {
            let config = super::parse_config(&img.config_json)?;
            let tags = img
                .tags
                .iter()
                .map(|t| parse_tag(t).map_err(ImageError::from))
                .collect::<Result<Vec<_>, _>>()?;
            parsed.push((config, tags));
        }
        let hexes: Vec<String> = layers.iter().map(|l| l.hex.clone()).collect();
        let ids = self.change(|idx| {
            for l in layers {
                self.commit_locked(idx, l)?;
            }
            let mut ids = Vec::new();
            for ((config, _), img) in parsed.iter().zip(images) {
                self.check_depth(config)?;
                for d in &config.rootfs.diff_ids {
                    if !idx.layers.contains_key(diff_hex(d)?) {
                        return Err(ImageError::BadInput(format!(
                            "layer {d} of the image config is not in the store; add its tar first"
                        )));
                    }
                }
                let hex = hex::encode(Sha256::digest(&img.config_json));
                let id = format!("sha256:{hex}");
                if !idx.images.contains_key(&id) {
                    let path = self.root.join("configs").join(format!("{hex}.json"));
                    write_atomic(&path, &img.config_json).map_err(io_err("write", &path))?;
                    idx.insert_image(&id, config.clone());
                }
                ids.push(id);
            }
            let mut tagged = false;
            for ((_, img_tags), id) in parsed.iter().zip(&ids) {
                for t in img_tags {
                    idx.set_tag(t, id);
                    tagged = true;
                }
            }
            if tagged {
                self.write_tags(&idx.tags)?;
            }
            Ok(ids)
        })?;
        for h in &hexes {
            self.unpin(h);
        }
        for (config, _) in &parsed {
            for d in &config.rootfs.diff_ids {
                if let Ok(h) = diff_hex(d) {
                    self.unpin(h);
                }
            }
        }
        let idx = self.snapshot()?;
        ids.iter().map(|id| image_of(&idx, id)).collect()
    }
}

fn broken_pipe(e: &ImageError) -> bool {
    let source = match e {
        ImageError::Layer(extract::ExtractError::Io { source, .. })
        | ImageError::Io { source, .. } => source,
        _ => return false,
    };
    source.kind() == io::ErrorKind::BrokenPipe
}

/// `tar`, gunzipped when it is gzip; other compressions are refused.
fn decompressed<'a>(tar: impl Read + 'a) -> Result<Box<dyn Read + 'a>, ImageError> {
    let mut input = BufReader::with_capacity(1 << 20, tar);
    let head = input
        .fill_buf()
        .map_err(|e| ImageError::BadInput(format!("cannot read the tar: {e}")))?;
    let compressed = |magic: &[u8]| head.starts_with(magic);
    if compressed(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(input)))
    } else if compressed(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || compressed(&[0x28, 0xb5, 0x2f, 0xfd])
        || compressed(b"BZh")
    {
        Err(ImageError::BadInput(
            "the tar is xz, zstd or bzip2 compressed; only plain or gzip tars are accepted: decompress it first".into(),
        ))
    } else {
        Ok(Box::new(input))
    }
}

/// Hashes and counts what passes, refusing more than `max` bytes.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
    max: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.len += n as u64;
        if self.len > self.max {
            return Err(io::Error::other(LIMIT_HIT));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

const LIMIT_HIT: &str = "the layer byte limit was reached";

/// The limit's own message when the read stopped at it.
fn limit_error(e: ImageError, len: &u64, max: u64) -> ImageError {
    if *len > max {
        exceeded("the layer tar (uncompressed)", max, "WHALE_MAX_LAYER_BYTES")
    } else {
        e
    }
}

/// Copy `tar` (gunzipped when it is gzip) to the spool file `path`; return
/// the sha256 hex of the uncompressed bytes and their length, refusing
/// more than `max` bytes. Not fsynced: the spool is gone once unpacked.
pub(super) fn receive(tar: impl Read, path: &Path, max: u64) -> Result<(String, u64), ImageError> {
    let mut reader = decompressed(tar)?;
    let mut file = File::create(path).map_err(io_err("create", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ImageError::BadInput(format!(
                    "cannot read the tar after {len} bytes: {e}"
                )))
            }
        };
        len += n as u64;
        if len > max {
            return Err(exceeded(
                "the layer tar (uncompressed)",
                max,
                "WHALE_MAX_LAYER_BYTES",
            ));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err("write", path))?;
    }
    Ok((hex::encode(hasher.finalize()), len))
}
