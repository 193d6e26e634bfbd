//! Each layer written once: the store keeps a layer's unpacked dir and,
//! beside it, its *tar-split* (`layers/<hex>/tar-split.gz`): every byte of
//! the layer tar except the data of its regular files (headers, PAX and
//! GNU records, padding, the end blocks), with, in place of each file's
//! data, a reference to the file in `diff/` that holds it. Replaying it
//! (`LayerTarReader`) gives the tar byte for byte, so its sha256 is the
//! diff_id recorded when the layer came in, for `save` and `push`.
//!
//! Why tar-split for every layer, and no blob for any: Docker's overlay2
//! store does the same (moby's layer store keeps tar-split metadata, not
//! the tar), and it is the only way to be exact for a layer whale
//! *received* (load, pull, import): those tars were written by other
//! tools, with their own header forms, orders and padding, which no
//! deterministic writer of ours would reproduce. The cost is the headers
//! (512 bytes an entry, gzipped to a few percent of that), against a full
//! second copy of the data (a Debian image took 1.9x Docker's disk).
//!
//! Exactness is guarded twice:
//! - while extracting, a file whose data a later entry of the same tar
//!   would remove or replace (a duplicate entry, a whiteout, a directory
//!   replaced) is moved to `tar-split-keep/<n>` first (hooks from
//!   `extract`), so the data a reference points to never changes; data the
//!   recorder could not place (an offset it did not expect) stays inline;
//! - replaying hashes what it produces and fails at the end, instead of
//!   ending cleanly, when the hash is not the diff_id: a damaged store
//!   gives an error, never a wrong archive.
//!
//! Files are opened below `diff/` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS` (a layer may have replaced a directory of a
//! referenced path by a symlink: the replay must not follow it out) and
//! read for exactly the recorded size.
//!
//! Format (inside gzip): records `0x01 <u64 len> <len bytes>` (tar bytes),
//! `0x02 <u64 n> <u64 size> <u32 len> <path bytes>` (file data: `size`
//! bytes of `tar-split-keep/<n>` if it exists, else of `diff/<path>`), and
//! `0x00` at the end. Integers little-endian.

use super::extract::ExtractHooks;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub(super) const SPLIT_FILE: &str = "tar-split.gz";
pub(super) const KEEP_DIR: &str = "tar-split-keep";

const END: u8 = 0;
const RAW: u8 = 1;
const DATA: u8 = 2;
/// Raw bytes are gathered up to this size before a record is written.
const RAW_CHUNK: usize = 64 << 10;

/// The state shared by the `Recorder` (which sees the tar's bytes) and the
/// extraction hooks (which say where file data goes).
pub(super) struct SplitWriter {
    out: flate2::write::GzEncoder<BufWriter<File>>,
    layer_dir: PathBuf,
    diff: PathBuf,
    /// Bytes of the tar seen so far.
    offset: u64,
    /// Bytes of a referenced file's data still to let pass unrecorded.
    skip: u64,
    pending: Vec<u8>,
    next: u64,
    /// Referenced files (absolute path while extracting) -> record number.
    files: HashMap<PathBuf, u64>,
}

impl SplitWriter {
    /// Record into `<layer_dir>/tar-split.gz` the tar to be unpacked into
    /// `<layer_dir>/diff`.
    pub(super) fn create(layer_dir: &Path) -> io::Result<Rc<RefCell<SplitWriter>>> {
        let f = File::create(layer_dir.join(SPLIT_FILE))?;
        Ok(Rc::new(RefCell::new(SplitWriter {
            out: flate2::write::GzEncoder::new(
                BufWriter::with_capacity(1 << 16, f),
                flate2::Compression::fast(),
            ),
            layer_dir: layer_dir.to_path_buf(),
            diff: layer_dir.join("diff"),
            offset: 0,
            skip: 0,
            pending: Vec::new(),
            next: 0,
            files: HashMap::new(),
        })))
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.out.write_all(&[RAW])?;
            self.out
                .write_all(&(self.pending.len() as u64).to_le_bytes())?;
            self.out.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.offset += bytes.len() as u64;
        if self.skip > 0 {
            let take = self.skip.min(bytes.len() as u64) as usize;
            self.skip -= take as u64;
            bytes = &bytes[take..];
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= RAW_CHUNK {
            self.flush_raw()?;
        }
        Ok(())
    }

    /// Write the end record; the split file is complete.
    pub(super) fn finish(&mut self) -> io::Result<()> {
        if self.skip != 0 {
            return Err(io::Error::other(
                "the tar ended inside a file's data".to_string(),
            ));
        }
        self.flush_raw()?;
        self.out.write_all(&[END])?;
        self.out.try_finish()?;
        self.out.get_mut().flush()
    }

    fn data(&mut self, pos: u64, size: u64, path: &Path) -> io::Result<()> {
        let Ok(rel) = path.strip_prefix(&self.diff) else {
            return Ok(());
        };
        // Only where the data is exactly next in the stream; otherwise it
        // is recorded inline with the rest.
        if size == 0 || pos != self.offset || self.skip != 0 {
            return Ok(());
        }
        self.flush_raw()?;
        let rel = rel.as_os_str().as_bytes();
        let n = self.next;
        self.next += 1;
        self.out.write_all(&[DATA])?;
        self.out.write_all(&n.to_le_bytes())?;
        self.out.write_all(&size.to_le_bytes())?;
        self.out.write_all(&(rel.len() as u32).to_le_bytes())?;
        self.out.write_all(rel)?;
        self.skip = size;
        // A second entry for the same path replaces the first: the first's
        // data was moved to keep by `removing`.
        self.files.insert(path.to_path_buf(), n);
        Ok(())
    }

    fn keep(&mut self, path: &Path, n: u64) -> io::Result<()> {
        let keep = self.layer_dir.join(KEEP_DIR);
        fs::create_dir_all(&keep)?;
        fs::rename(path, keep.join(n.to_string()))
    }
}

/// The extraction hooks of a recorded layer.
pub(super) struct SplitHooks {
    pub(super) w: Rc<RefCell<SplitWriter>>,
    pub(super) err: Option<io::Error>,
}

impl ExtractHooks for SplitHooks {
    fn file_data(&mut self, pos: u64, size: u64, path: &Path) {
        if let Err(e) = self.w.borrow_mut().data(pos, size, path) {
            self.err.get_or_insert(e);
        }
    }

    fn removing(&mut self, path: &Path, is_dir: bool) -> io::Result<()> {
        let mut w = self.w.borrow_mut();
        let doomed: Vec<(PathBuf, u64)> = if is_dir {
            w.files
                .iter()
                .filter(|(p, _)| p.starts_with(path))
                .map(|(p, n)| (p.clone(), *n))
                .collect()
        } else {
            w.files
                .get(path)
                .map(|n| vec![(path.to_path_buf(), *n)])
                .unwrap_or_default()
        };
        for (p, n) in doomed {
            w.files.remove(&p);
            w.keep(&p, n)?;
        }
        Ok(())
    }
}

/// Passes the tar's bytes through to the extractor, telling the
/// `SplitWriter` every one.
pub(super) struct Recorder<R> {
    pub(super) inner: R,
    pub(super) w: Rc<RefCell<SplitWriter>>,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.w.borrow_mut().observe(&buf[..n])?;
        Ok(n)
    }
}

enum Part {
    Between,
    Raw(u64),
    Data(io::Take<File>, String),
    Done,
}

/// A layer's tar, replayed from its tar-split and its files, checked
/// against its diff_id as it ends.
pub struct LayerTarReader {
    split: flate2::bufread::GzDecoder<BufReader<File>>,
    diff: File,
    keep: HashSet<u64>,
    layer_dir: PathBuf,
    part: Part,
    hasher: Sha256,
    hex: String,
}

impl LayerTarReader {
    pub(super) fn open(layer_dir: &Path, hex: &str) -> io::Result<LayerTarReader> {
        let split = File::open(layer_dir.join(SPLIT_FILE))?;
        let diff = File::open(layer_dir.join("diff"))?;
        let keep = match fs::read_dir(layer_dir.join(KEEP_DIR)) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(e),
        };
        Ok(LayerTarReader {
            split: flate2::bufread::GzDecoder::new(BufReader::with_capacity(1 << 16, split)),
            diff,
            keep,
            layer_dir: layer_dir.to_path_buf(),
            part: Part::Between,
            hasher: Sha256::new(),
            hex: hex.to_string(),
        })
    }

    fn damaged(&self, what: String) -> io::Error {
        io::Error::other(format!(
            "layer sha256:{} cannot be reproduced: {what}; the image store is damaged (remove the images that use it and load or pull them again)",
            self.hex
        ))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.split.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn next_part(&mut self) -> io::Result<Part> {
        let mut tag = [0u8; 1];
        self.split.read_exact(&mut tag)?;
        match tag[0] {
            END => {
                let got = hex::encode(self.hasher.clone().finalize());
                if got != self.hex {
                    return Err(self.damaged(format!("its tar replays as sha256:{got}")));
                }
                Ok(Part::Done)
            }
            RAW => Ok(Part::Raw(self.u64()?)),
            DATA => {
                let n = self.u64()?;
                let size = self.u64()?;
                let mut len = [0u8; 4];
                self.split.read_exact(&mut len)?;
                let mut rel = vec![0u8; u32::from_le_bytes(len) as usize];
                self.split.read_exact(&mut rel)?;
                let rel = PathBuf::from(std::ffi::OsStr::from_bytes(&rel));
                let shown = rel.display().to_string();
                let file = if self.keep.contains(&n) {
                    File::open(self.layer_dir.join(KEEP_DIR).join(n.to_string()))
                } else {
                    crate::linux::openat2::open_beneath(
                        self.diff.as_fd(),
                        &rel,
                        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NOFOLLOW,
                    )
                    .map(File::from)
                }
                .map_err(|e| self.damaged(format!("its file {shown:?}: {e}")))?;
                Ok(Part::Data(file.take(size), shown))
            }
            t => Err(self.damaged(format!("unknown record {t} in its tar-split"))),
        }
    }
}

impl Read for LayerTarReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = match &mut self.part {
                Part::Done => return Ok(0),
                Part::Between => {
                    self.part = self.next_part()?;
                    continue;
                }
                Part::Raw(0) => {
                    self.part = Part::Between;
                    continue;
                }
                Part::Raw(left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = self.split.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(self.damaged("its tar-split is truncated".into()));
                    }
                    *left -= n as u64;
                    n
                }
                Part::Data(f, shown) => {
                    let n = f.read(buf)?;
                    if n == 0 {
                        if f.limit() > 0 {
                            let what = format!("its file {shown:?} is shorter than recorded");
                            return Err(self.damaged(what));
                        }
                        self.part = Part::Between;
                        continue;
                    }
                    n
                }
            };
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
    }
}

#[cfg(test)]
#[path = "tarsplit_tests.rs"]
mod tests;
