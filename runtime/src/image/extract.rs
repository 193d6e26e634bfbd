//! Safe layer extraction, and the reverse: a layer tar from a directory.
//!
//! A layer tar comes from outside (an import, a `load`, a build step), so it
//! is treated as hostile. Extraction never writes outside its target:
//!
//! - Entry names are split on `/`; empty and `.` components are dropped, so
//!   a leading `/` or `./` is stripped (as Docker and GNU tar do: `/etc/x`
//!   lands in `<target>/etc/x`). Any `..` component is refused outright,
//!   even one that would stay inside (`a/../b`): no legitimate layer needs it.
//! - Every parent component is checked with `lstat` as we go: a symlink or a
//!   non-directory on the way is refused (a missing parent is created 0755).
//!   The entry itself is never followed: an existing node is removed first
//!   (unless both are directories) and files are opened `O_NOFOLLOW|O_EXCL`.
//! - Hard links must name an entry already unpacked in this layer, through
//!   real directories only, and not a directory.
//! - GNU sparse files (type `S`) are refused, as Docker refuses them:
//!   unpacked naively they are fully allocated files many times the tar's
//!   size. (`Store::prepare_layer` also scans the headers first, see
//!   `tarscan`.)
//! - Device nodes and fifos are refused; the only device written is the
//!   overlay whiteout (char 0:0) made from a `.wh.NAME` entry. A
//!   `.wh..wh..opq` entry marks its directory opaque
//!   (`trusted.overlay.opaque=y`, `user.overlay.opaque=y` in rootless mode,
//!   see linux::userns); other `.wh..wh.*` (aufs metadata) are skipped.
//! - Of the PAX xattrs only `security.capability` and `user.*` but
//!   `user.overlay.*` are applied: a layer must not smuggle overlayfs's own
//!   attributes (`trusted.overlay.*`, or `user.overlay.*` rootless) into the overlay.
//!
//! Mode (with setuid/setgid/sticky), owner (when we are root), mtime,
//! symlinks and hard links are preserved.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::EntryType;

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("refusing layer entry {entry:?}: {reason}")]
    Unsafe { entry: String, reason: String },
    #[error("the layer tar is unreadable (after entry {after:?}): {source}; is it a tar archive?")]
    Tar { after: String, source: io::Error },
    #[error("cannot {action} {path:?} (layer entry {entry:?}): {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        entry: String,
        source: io::Error,
    },
}

/// What an extraction found, recorded with the layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Sum of regular file sizes (hard links counted once).
    pub size: u64,
    /// Newest entry mtime (unix seconds); 0 for an empty layer.
    pub newest_mtime: u64,
    pub entries: u64,
}

/// What `write_layer_tar` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerTarStats {
    pub entries: u64,
    /// Sockets, fifos and device nodes (other than whiteouts) left out: a
    /// layer cannot carry them (see the module doc).
    pub skipped: Vec<PathBuf>,
}

/// What the store's tar-split (`tarsplit`) needs to hear from an
/// extraction: where each file's data lands, and what is about to be
/// removed (so that data it still needs can be kept).
pub trait ExtractHooks {
    /// The `size` bytes of data at offset `pos` of the tar are about to be
    /// copied into the new regular file `path`.
    fn file_data(&mut self, _pos: u64, _size: u64, _path: &Path) {}
    /// `path` (a directory tree when `is_dir`) is about to be removed.
    fn removing(&mut self, _path: &Path, _is_dir: bool) -> io::Result<()> {
        Ok(())
    }
}

struct NoHooks;
impl ExtractHooks for NoHooks {}

/// Unpack the layer tar `tar` into the existing directory `dest`.
pub fn extract_layer(tar: impl Read, dest: &Path) -> Result<ExtractStats, ExtractError> {
    extract_layer_with(tar, dest, &mut NoHooks)
}

/// `extract_layer`, telling `hooks` what it does.
pub fn extract_layer_with(
    tar: impl Read,
    dest: &Path,
    hooks: &mut dyn ExtractHooks,
) -> Result<ExtractStats, ExtractError> {
    let mut ex = Extractor {
        hooks,
        dest: dest.to_path_buf(),
        as_root: crate::linux::fs::euid_is_root(),
        dir_times: Vec::new(),
        stats: ExtractStats::default(),
    };
    let mut archive = tar::Archive::new(tar);
    let mut last = String::from("<start>");
    let entries = archive.entries().map_err(|source| ExtractError::Tar {
        after: last.clone(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| ExtractError::Tar {
            after: last.clone(),
            source,
        })?;
        last = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        ex.entry(&mut entry, &last)?;
    }
    // Directory mtimes last: creating children changed them.
    for (path, mtime) in ex.dir_times.iter().rev() {
        set_mtime(path, *mtime).map_err(|source| ExtractError::Io {
            action: "set the mtime of",
            path: path.clone(),
            entry: String::new(),
            source,
        })?;
    }
    Ok(ex.stats)
}

/// Split an entry name into safe components (see the module doc).
pub fn clean_entry_path(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err("its path contains a `..` component".into()),
            c => out.push(OsString::from_vec(c.to_vec())),
        }
    }
    Ok(out)
}

struct Extractor<'h> {
    hooks: &'h mut dyn ExtractHooks,
    dest: PathBuf,
    as_root: bool,
    dir_times: Vec<(PathBuf, u64)>,
    stats: ExtractStats,
}

/// Per-entry metadata pulled from the header and its PAX extensions.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Extractor<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        name: &str,
    ) -> Result<(), ExtractError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let unsafe_entry = |reason: String| ExtractError::Unsafe {
            entry: name.to_string(),
            reason,
        };
        let comps = clean_entry_path(&entry.path_bytes()).map_err(unsafe_entry)?;
        let meta = read_meta(entry).map_err(|source| ExtractError::Tar {
            after: name.to_string(),
            source,
        })?;
        self.stats.entries += 1;
        self.stats.newest_mtime = self.stats.newest_mtime.max(meta.mtime);

        let Some((base, parents)) = comps.split_last() else {
            // The layer's root itself ("./"): take its mode and owner.
            if kind == EntryType::Directory {
                let dest = self.dest.clone();
                self.apply_dir_meta(&dest, &meta, name)?;
            }
            return Ok(());
        };
        let base_str = base.to_string_lossy();

        if base_str.starts_with(WHITEOUT_PREFIX) {
            let parent = self.ensure_parents(parents, true, name)?;
            if base_str == WHITEOUT_OPAQUE {
                xattr::set(&parent, crate::linux::userns::opaque_xattr(), b"y").map_err(
                    |source| ExtractError::Io {
                        action: "mark opaque (set the overlay's opaque xattr)",
                        path: parent.clone(),
                        entry: name.to_string(),
                        source,
                    },
                )?;
            } else if !base_str.starts_with(WHITEOUT_META_PREFIX) {
                let hidden = &base.as_bytes()[WHITEOUT_PREFIX.len()..];
                if hidden.is_empty() {
                    return Err(unsafe_entry("a whiteout must name a file".into()));
                }
                let target = parent.join(OsStr::from_bytes(hidden));
                self.remove_existing(&target, false, name)?;
                make_whiteout(&target).map_err(|source| ExtractError::Io {
                    action: "create the overlay whiteout (char device 0:0, needs CAP_MKNOD)",
                    path: target.clone(),
                    entry: name.to_string(),
                    source,
                })?;
                self.chown(&target, &meta, name)?;
            }
            return Ok(());
        }

        let parent = self.ensure_parents(parents, true, name)?;
        let path = parent.join(base);
        let io_err = |action: &'static str, path: &Path| {
            let entry = name.to_string();
            let path = path.to_path_buf();
            move |source| ExtractError::Io {
                action,
                path,
                entry,
                source,
            }
        };
        match kind {
            EntryType::Directory => {
                let existing_dir = self.remove_existing(&path, true, name)?;
                if !existing_dir {
                    fs::create_dir(&path).map_err(io_err("create directory", &path))?;
                }
                self.apply_dir_meta(&path, &meta, name)?;
            }
            EntryType::GNUSparse => {
                // Unpacked naively, a few KB of sparse map become a fully
                // allocated file of any size; Docker refuses them too.
                return Err(unsafe_entry(
                    "unhandled tar header type 83 (a GNU sparse file): whale does not unpack sparse files".into(),
                ));
            }
            EntryType::Regular | EntryType::Continuous => {
                self.remove_existing(&path, false, name)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err("create file", &path))?;
                let want = entry.size();
                self.hooks.file_data(entry.raw_file_position(), want, &path);
                let n = io::copy(entry, &mut file).map_err(|source| ExtractError::Tar {
                    after: name.to_string(),
                    source,
                })?;
                if n != want {
                    return Err(ExtractError::Tar {
                        after: name.to_string(),
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the tar ends {} bytes into this {want}-byte file", n),
                        ),
                    });
                }
                self.stats.size += n;
                if self.as_root {
                    std::os::unix::fs::fchown(&file, Some(meta.uid), Some(meta.gid))
                        .map_err(io_err("change the owner of", &path))?;
                }
                // After chown: chown clears setuid/setgid bits.
                file.set_permissions(fs::Permissions::from_mode(meta.mode & 0o7777))
                    .map_err(io_err("set the mode of", &path))?;
                self.apply_xattrs(&path, &meta, name)?;
                drop(file);
                set_mtime(&path, meta.mtime).map_err(io_err("set the mtime of", &path))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry("a symlink without a target".into()))?
                    .into_owned();
                self.remove_existing(&path, false, name)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_err("create symlink", &path))?;
                self.chown(&path, &meta, name)?;
                set_mtime(&path, meta.mtime).map_err(io_err("set the mtime of", &path))?;
            }
            EntryType::Link => {
                let raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry("a hard link without a target".into()))?
                    .into_owned();
                let target_comps = clean_entry_path(&raw)
                    .map_err(|r| unsafe_entry(format!("hard link target: {r}")))?;
                let Some((tbase, tparents)) = target_comps.split_last() else {
                    return Err(unsafe_entry("a hard link to the layer root".into()));
                };
                let tparent = self.ensure_parents(tparents, false, name)?;
                let target = tparent.join(tbase);
                match fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {
                        return Err(unsafe_entry(format!(
                            "hard link to directory {:?}",
                            String::from_utf8_lossy(&raw)
                        )))
                    }
                    Ok(_) => {}
                    Err(_) => {
                        return Err(unsafe_entry(format!(
                            "hard link target {:?} is not in this layer (it must come earlier in the tar)",
                            String::from_utf8_lossy(&raw)
                        )))
                    }
                }
                if target == path {
                    return Ok(());
                }
                self.remove_existing(&path, false, name)?;
                // linkat(2) without AT_SYMLINK_FOLLOW: a symlink target is
                // linked itself, never followed.
                fs::hard_link(&target, &path).map_err(io_err("create hard link", &path))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(unsafe_entry(format!(
                    "{} are not allowed in a layer (only overlay whiteouts are made, from .wh. entries)",
                    match kind {
                        EntryType::Fifo => "fifos",
                        _ => "device nodes",
                    }
                )));
            }
            other => {
                return Err(unsafe_entry(format!(
                    "unsupported tar entry type {other:?}"
                )));
            }
        }
        Ok(())
    }

    /// Walk `parents` below the target with lstat, refusing symlinks and
    /// non-directories; create missing ones (0755) when `create`.
    fn ensure_parents(
        &self,
        parents: &[OsString],
        create: bool,
        name: &str,
    ) -> Result<PathBuf, ExtractError> {
        let mut cur = self.dest.clone();
        for comp in parents {
            cur.push(comp);
            let shown = || {
                cur.strip_prefix(&self.dest)
                    .unwrap_or(&cur)
                    .to_string_lossy()
                    .into_owned()
            };
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ExtractError::Unsafe {
                        entry: name.to_string(),
                        reason: format!("its path goes through the symlink {:?}", shown()),
                    })
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(ExtractError::Unsafe {
                        entry: name.to_string(),
                        reason: format!("{:?} on its path is not a directory", shown()),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&cur).map_err(|source| ExtractError::Io {
                        action: "create directory",
                        path: cur.clone(),
                        entry: name.to_string(),
                        source,
                    })?;
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755)).map_err(
                        |source| ExtractError::Io {
                            action: "set the mode of",
                            path: cur.clone(),
                            entry: name.to_string(),
                            source,
                        },
                    )?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(ExtractError::Unsafe {
                        entry: name.to_string(),
                        reason: format!("{:?} on its link target's path does not exist", shown()),
                    })
                }
                Err(source) => {
                    return Err(ExtractError::Io {
                        action: "inspect",
                        path: cur.clone(),
                        entry: name.to_string(),
                        source,
                    })
                }
            }
        }
        Ok(cur)
    }

    /// Remove whatever is at `path` (never following it). Returns true when
    /// it is a directory and `keep_dir` asked to keep directories.
    fn remove_existing(
        &mut self,
        path: &Path,
        keep_dir: bool,
        name: &str,
    ) -> Result<bool, ExtractError> {
        let res = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => Err(e),
            Ok(m) if m.is_dir() && keep_dir => return Ok(true),
            Ok(m) if m.is_dir() => self
                .hooks
                .removing(path, true)
                .and_then(|()| fs::remove_dir_all(path)),
            Ok(_) => self
                .hooks
                .removing(path, false)
                .and_then(|()| match fs::remove_file(path) {
                    // The hook moved it away.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    r => r,
                }),
        };
        res.map(|_| false).map_err(|source| ExtractError::Io {
            action: "replace",
            path: path.to_path_buf(),
            entry: name.to_string(),
            source,
        })
    }

    fn chown(&self, path: &Path, meta: &Meta, name: &str) -> Result<(), ExtractError> {
        if !self.as_root {
            return Ok(());
        }
        std::os::unix::fs::lchown(path, Some(meta.uid), Some(meta.gid)).map_err(|source| {
            ExtractError::Io {
                action: "change the owner of",
                path: path.to_path_buf(),
                entry: name.to_string(),
                source,
            }
        })
    }

    fn apply_dir_meta(&mut self, path: &Path, meta: &Meta, name: &str) -> Result<(), ExtractError> {
        self.chown(path, meta, name)?;
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode & 0o7777)).map_err(
            |source| ExtractError::Io {
                action: "set the mode of",
                path: path.to_path_buf(),
                entry: name.to_string(),
                source,
            },
        )?;
        self.apply_xattrs(path, meta, name)?;
        self.dir_times.push((path.to_path_buf(), meta.mtime));
        Ok(())
    }

    fn apply_xattrs(&self, path: &Path, meta: &Meta, name: &str) -> Result<(), ExtractError> {
        for (key, value) in &meta.xattrs {
            // Never overlayfs's own attributes: user.overlay.* is where a
            // rootless overlay keeps them (opaque dirs, redirects).
            let allowed = key == "security.capability"
                || (key.starts_with("user.") && !key.starts_with("user.overlay."));
            if !allowed {
                continue;
            }
            xattr::set(path, key, value).map_err(|source| ExtractError::Io {
                action: "set an extended attribute on",
                path: path.to_path_buf(),
                entry: name.to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

fn read_meta<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
    let h = entry.header();
    // Some writers leave numeric fields blank: read those as 0 (root, the
    // epoch), and a blank mode as rw-r--r--, rather than refusing the layer.
    let id = |v: io::Result<u64>| v.ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let mut meta = Meta {
        mode: h.mode().unwrap_or(0o644),
        uid: id(h.uid()),
        gid: id(h.gid()),
        mtime: h.mtime().unwrap_or(0),
        xattrs: Vec::new(),
    };
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            let num = || {
                ext.value()
                    .ok()
                    .and_then(|v| v.split('.').next())
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match key {
                "uid" => {
                    meta.uid = num()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(meta.uid)
                }
                "gid" => {
                    meta.gid = num()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(meta.gid)
                }
                "mtime" => meta.mtime = num().unwrap_or(meta.mtime),
                k => {
                    if let Some(attr) = k.strip_prefix("SCHILY.xattr.") {
                        meta.xattrs
                            .push((attr.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    crate::linux::fs::set_mtime_nofollow(path, i64::try_from(mtime).unwrap_or(i64::MAX))
}

/// An overlayfs whiteout: a character device with device number 0:0.
pub use crate::linux::fs::make_whiteout;

fn is_whiteout(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Write `dir` as a layer tar to `out`, the inverse of `extract_layer`:
/// entries in byte-sorted order (deterministic), names relative without a
/// leading `./`, owners/modes/mtimes kept, hard links within `dir` as link
/// entries, overlay whiteouts as `.wh.NAME`, opaque directories followed by
/// `DIR/.wh..wh..opq`, `security.capability` kept as a PAX xattr. The root
/// directory itself is not an entry.
pub fn write_layer_tar(dir: &Path, out: impl Write) -> Result<LayerTarStats, ExtractError> {
    let mut w = TarWriter {
        builder: tar::Builder::new(out),
        root: dir.to_path_buf(),
        links: HashMap::new(),
        stats: LayerTarStats::default(),
    };
    w.walk(dir, Path::new(""))?;
    w.builder.finish().map_err(|source| ExtractError::Io {
        action: "write the layer tar for",
        path: dir.to_path_buf(),
        entry: String::new(),
        source,
    })?;
    Ok(w.stats)
}

struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    root: PathBuf,
    links: HashMap<(u64, u64), PathBuf>,
    stats: LayerTarStats,
}

impl<W: Write> TarWriter<W> {
    fn err(&self, action: &'static str, rel: &Path) -> impl FnOnce(io::Error) -> ExtractError {
        let path = self.root.join(rel);
        let entry = rel.to_string_lossy().into_owned();
        move |source| ExtractError::Io {
            action,
            path,
            entry,
            source,
        }
    }

    fn walk(&mut self, abs: &Path, rel: &Path) -> Result<(), ExtractError> {
        let mut names: Vec<OsString> = fs::read_dir(abs)
            .map_err(self.err("read directory", rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(self.err("read directory", rel))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let child_abs = abs.join(&name);
            let child_rel = rel.join(&name);
            let meta = fs::symlink_metadata(&child_abs).map_err(self.err("inspect", &child_rel))?;
            self.add(&child_abs, &child_rel, &meta)?;
            if meta.is_dir() {
                self.walk(&child_abs, &child_rel)?;
            }
        }
        Ok(())
    }

    fn header(meta: &fs::Metadata, kind: EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        h.set_size(0);
        h
    }

    fn add(&mut self, abs: &Path, rel: &Path, meta: &fs::Metadata) -> Result<(), ExtractError> {
        let ft = meta.file_type();
        self.stats.entries += 1;
        if let Some(cap) = xattr::get(abs, "security.capability").ok().flatten() {
            self.builder
                .append_pax_extensions([("SCHILY.xattr.security.capability", cap.as_slice())])
                .map_err(self.err("write", rel))?;
        }
        if ft.is_dir() {
            let mut h = Self::header(meta, EntryType::Directory);
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(self.err("write", rel))?;
            if xattr::get(abs, crate::linux::userns::opaque_xattr())
                .ok()
                .flatten()
                .as_deref()
                == Some(b"y")
            {
                let mut h = Self::header(meta, EntryType::Regular);
                self.builder
                    .append_data(&mut h, rel.join(WHITEOUT_OPAQUE), io::empty())
                    .map_err(self.err("write", rel))?;
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(abs).map_err(self.err("read symlink", rel))?;
            let mut h = Self::header(meta, EntryType::Symlink);
            self.builder
                .append_link(&mut h, rel, target)
                .map_err(self.err("write", rel))?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&key).cloned() {
                    let mut h = Self::header(meta, EntryType::Link);
                    self.builder
                        .append_link(&mut h, rel, first)
                        .map_err(self.err("write", rel))?;
                    return Ok(());
                }
                self.links.insert(key, rel.to_path_buf());
            }
            let mut h = Self::header(meta, EntryType::Regular);
            h.set_size(meta.len());
            let file = File::open(abs).map_err(self.err("open", rel))?;
            // A file that changes size while we read would corrupt the tar:
            // read exactly the size recorded in the header.
            let mut limited = file.take(meta.len());
            self.builder
                .append_data(&mut h, rel, &mut limited)
                .map_err(self.err("write", rel))?;
        } else if is_whiteout(meta) {
            let name = rel
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(&name);
            let mut h = Self::header(meta, EntryType::Regular);
            h.set_mode(0);
            self.builder
                .append_data(&mut h, rel.with_file_name(wh), io::empty())
                .map_err(self.err("write", rel))?;
        } else {
            self.stats.entries -= 1;
            self.stats.skipped.push(rel.to_path_buf());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
