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
//! - Device nodes and fifos are refused; the only device written is the
//!   overlay whiteout (char 0:0) made from a `.wh.NAME` entry. A
//!   `.wh..wh..opq` entry marks its directory opaque
//!   (`trusted.overlay.opaque=y`); other `.wh..wh.*` (aufs metadata) are skipped.
//! - Of the PAX xattrs only `security.capability` and `user.*` are applied: a
//!   layer must not smuggle `trusted.overlay.*` attributes into the overlay.
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
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

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

/// Unpack the layer tar `tar` into the existing directory `dest`.
pub fn extract_layer(tar: impl Read, dest: &Path) -> Result<ExtractStats, ExtractError> {
    let mut ex = Extractor {
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

struct Extractor {
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

impl Extractor {
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
                xattr::set(&parent, OPAQUE_XATTR, b"y").map_err(|source| ExtractError::Io {
                    action: "mark opaque (set trusted.overlay.opaque, needs root)",
                    path: parent.clone(),
                    entry: name.to_string(),
                    source,
                })?;
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
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.remove_existing(&path, false, name)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err("create file", &path))?;
                let n = io::copy(entry, &mut file).map_err(|source| ExtractError::Tar {
                    after: name.to_string(),
                    source,
                })?;
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
        &self,
        path: &Path,
        keep_dir: bool,
        name: &str,
    ) -> Result<bool, ExtractError> {
        let res = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => Err(e),
            Ok(m) if m.is_dir() && keep_dir => return Ok(true),
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
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
            let allowed = key == "security.capability" || key.starts_with("user.");
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
            if xattr::get(abs, OPAQUE_XATTR).ok().flatten().as_deref() == Some(b"y") {
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
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    /// A raw header whose name is written byte for byte, bypassing the tar
    /// crate's own refusal of `..` and absolute paths.
    fn raw_header(name: &[u8], kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h
    }

    struct Tb(tar::Builder<Vec<u8>>);
    impl Tb {
        fn new() -> Self {
            Tb(tar::Builder::new(Vec::new()))
        }
        fn file(mut self, name: &str, data: &[u8]) -> Self {
            let mut h = raw_header(name.as_bytes(), EntryType::Regular, data.len() as u64);
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }
        fn dir(mut self, name: &str) -> Self {
            let mut h = raw_header(name.as_bytes(), EntryType::Directory, 0);
            h.set_mode(0o755);
            h.set_cksum();
            self.0.append(&h, io::empty()).unwrap();
            self
        }
        fn link(mut self, name: &str, kind: EntryType, target: &str) -> Self {
            let mut h = raw_header(name.as_bytes(), kind, 0);
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
            h.set_cksum();
            self.0.append(&h, io::empty()).unwrap();
            self
        }
        fn node(mut self, name: &str, kind: EntryType) -> Self {
            let mut h = raw_header(name.as_bytes(), kind, 0);
            h.set_cksum();
            self.0.append(&h, io::empty()).unwrap();
            self
        }
        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn refused(tar: Vec<u8>, entry: &str, why: &str) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let dest = dir.path().join("dest");
        fs::create_dir(&dest).unwrap();
        match extract_layer(&tar[..], &dest) {
            Err(ExtractError::Unsafe { entry: e, reason }) => {
                assert_eq!(e, entry);
                assert!(reason.contains(why), "reason {reason:?} lacks {why:?}");
            }
            other => panic!("expected a refusal of {entry}, got {other:?}"),
        }
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside the target"
        );
    }

    #[test]
    fn refuses_dotdot() {
        refused(
            Tb::new().file("../outside/x", b"evil").bytes(),
            "../outside/x",
            "`..`",
        );
        refused(
            Tb::new().file("a/../../outside/x", b"e").bytes(),
            "a/../../outside/x",
            "`..`",
        );
    }

    #[test]
    fn strips_leading_slash_and_dot() {
        let dir = tempfile::tempdir().unwrap();
        let tar = Tb::new()
            .file("/etc/abs", b"1")
            .file("./etc/dot", b"2")
            .bytes();
        extract_layer(&tar[..], dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join("etc/abs")).unwrap(), b"1");
        assert_eq!(fs::read(dir.path().join("etc/dot")).unwrap(), b"2");
    }

    #[test]
    fn refuses_path_through_symlink() {
        // The symlink points at the sibling "outside" dir; writing through it escapes.
        refused(
            Tb::new()
                .link("esc", EntryType::Symlink, "../outside")
                .file("esc/x", b"evil")
                .bytes(),
            "esc/x",
            "symlink \"esc\"",
        );
        refused(
            Tb::new()
                .link("abs", EntryType::Symlink, "/")
                .dir("abs/tmp")
                .bytes(),
            "abs/tmp",
            "symlink \"abs\"",
        );
    }

    #[test]
    fn refuses_escaping_hardlinks() {
        refused(
            Tb::new()
                .link("h", EntryType::Link, "../outside/secret")
                .bytes(),
            "h",
            "`..`",
        );
        refused(
            Tb::new()
                .link("s", EntryType::Symlink, "../outside")
                .link("h", EntryType::Link, "s/secret")
                .bytes(),
            "h",
            "symlink \"s\"",
        );
        refused(
            Tb::new().link("h", EntryType::Link, "missing").bytes(),
            "h",
            "not in this layer",
        );
        refused(
            Tb::new().dir("d").link("h", EntryType::Link, "d").bytes(),
            "h",
            "directory",
        );
    }

    #[test]
    fn refuses_devices_and_fifos() {
        refused(
            Tb::new().node("dev/sda", EntryType::Block).bytes(),
            "dev/sda",
            "device",
        );
        refused(
            Tb::new().node("dev/mem", EntryType::Char).bytes(),
            "dev/mem",
            "device",
        );
        refused(
            Tb::new().node("pipe", EntryType::Fifo).bytes(),
            "pipe",
            "fifo",
        );
    }

    #[test]
    fn replaced_symlink_is_not_followed() {
        // A later file entry over an earlier symlink replaces the link.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        fs::create_dir(&dest).unwrap();
        fs::write(dir.path().join("victim"), b"keep").unwrap();
        let tar = Tb::new()
            .link("f", EntryType::Symlink, "../victim")
            .file("f", b"new")
            .bytes();
        extract_layer(&tar[..], &dest).unwrap();
        assert_eq!(fs::read(dir.path().join("victim")).unwrap(), b"keep");
        assert_eq!(fs::read(dest.join("f")).unwrap(), b"new");
        assert!(fs::symlink_metadata(dest.join("f")).unwrap().is_file());
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let tar = Tb::new()
            .dir("etc")
            .file("etc/.wh.gone", b"")
            .dir("var/cache")
            .file("var/cache/.wh..wh..opq", b"")
            .file("var/.wh..wh.plnk", b"")
            .bytes();
        extract_layer(&tar[..], dir.path()).unwrap();
        let wh = fs::symlink_metadata(dir.path().join("etc/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!dir.path().join("etc/.wh.gone").exists());
        assert_eq!(
            xattr::get(dir.path().join("var/cache"), OPAQUE_XATTR)
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
        assert!(fs::symlink_metadata(dir.path().join("var/.wh..wh.plnk")).is_err());
        assert!(fs::symlink_metadata(dir.path().join("var/cache/.wh..wh..opq")).is_err());
    }

    #[test]
    fn tar_smuggled_overlay_xattrs_are_dropped() {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
            ("SCHILY.xattr.user.note", &b"hi"[..]),
        ])
        .unwrap();
        let mut h = raw_header(b"d", EntryType::Directory, 0);
        h.set_cksum();
        b.append(&h, io::empty()).unwrap();
        let tar = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        extract_layer(&tar[..], dir.path()).unwrap();
        let d = dir.path().join("d");
        assert_eq!(xattr::get(&d, OPAQUE_XATTR).unwrap(), None);
        assert_eq!(
            xattr::get(&d, "user.note").unwrap().as_deref(),
            Some(&b"hi"[..])
        );
    }

    #[test]
    fn preserves_metadata_and_roundtrips_through_write_layer_tar() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(0o1777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(0);
        b.append_data(&mut h, "tmp", io::empty()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o4755);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_500_000_000);
        h.set_size(5);
        b.append_data(&mut h, "bin/prog", &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(EntryType::Link);
        h.set_mtime(1_500_000_000);
        h.set_size(0);
        b.append_link(&mut h, "bin/alias", "bin/prog").unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(EntryType::Symlink);
        h.set_mtime(1_400_000_000);
        h.set_size(0);
        b.append_link(&mut h, "bin/sym", "prog").unwrap();
        b.append_data(
            &mut raw_header(b"gone-file", EntryType::Regular, 0),
            ".wh.gone",
            io::empty(),
        )
        .unwrap();
        let tar = b.into_inner().unwrap();

        let stats = extract_layer(&tar[..], &src).unwrap();
        assert_eq!(stats.size, 5);
        assert_eq!(stats.newest_mtime, 1_700_000_000);
        let m = fs::metadata(src.join("tmp")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o1777);
        assert_eq!(m.mtime(), 1_600_000_000);
        let p = fs::metadata(src.join("bin/prog")).unwrap();
        assert_eq!(p.mode() & 0o7777, 0o4755);
        assert_eq!(p.mtime(), 1_500_000_000);
        if crate::linux::fs::euid_is_root() {
            assert_eq!((p.uid(), p.gid()), (1000, 1001));
        }
        let a = fs::metadata(src.join("bin/alias")).unwrap();
        assert_eq!(a.ino(), p.ino(), "hard link not preserved");
        assert_eq!(
            fs::read_link(src.join("bin/sym")).unwrap(),
            Path::new("prog")
        );
        assert_eq!(
            fs::symlink_metadata(src.join("bin/sym")).unwrap().mtime(),
            1_400_000_000
        );
        xattr::set(src.join("tmp"), OPAQUE_XATTR, b"y").unwrap();

        // Back to a tar, twice: identical bytes, and it unpacks to the same tree.
        let mut t1 = Vec::new();
        let s1 = write_layer_tar(&src, &mut t1).unwrap();
        let mut t2 = Vec::new();
        write_layer_tar(&src, &mut t2).unwrap();
        assert_eq!(t1, t2, "layer tar is not deterministic");
        assert!(s1.skipped.is_empty());
        let names: Vec<String> = tar::Archive::new(&t1[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/alias",
                "bin/prog",
                "bin/sym",
                ".wh.gone",
                "tmp",
                "tmp/.wh..wh..opq"
            ]
        );
        let copy = dir.path().join("copy");
        fs::create_dir(&copy).unwrap();
        extract_layer(&t1[..], &copy).unwrap();
        assert!(fs::symlink_metadata(copy.join("gone"))
            .unwrap()
            .file_type()
            .is_char_device());
        assert_eq!(
            xattr::get(copy.join("tmp"), OPAQUE_XATTR)
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
        let p2 = fs::metadata(copy.join("bin/prog")).unwrap();
        assert_eq!(
            p2.ino(),
            fs::metadata(copy.join("bin/alias")).unwrap().ino()
        );
        assert_eq!(p2.mode() & 0o7777, 0o4755);
    }
}
