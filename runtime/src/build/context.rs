//! ADD/COPY: finding sources in the build context (never outside it),
//! hashing their content for the cache, and staging them as a layer
//! directory laid out as the image's root.

use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Extract(#[from] crate::image::extract::ExtractError),
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ContextError {
    let path = path.to_path_buf();
    move |source| ContextError::Io {
        action,
        path,
        source,
    }
}

const MAX_SYMLINK_HOPS: usize = 40;

/// Lexically clean a path inside a root: `..` never climbs above the root.
fn clean_rel(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Resolve `rel` inside `root` as if `root` were `/`: symlinks are followed
/// but can never leave `root` (an absolute target restarts at `root`).
/// The last component is followed too when `follow_last`.
pub fn resolve_in_root(root: &Path, rel: &str, follow_last: bool) -> Result<PathBuf, ContextError> {
    let mut pending: Vec<String> = clean_rel(rel);
    pending.reverse();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            done.pop();
            continue;
        }
        let candidate = root.join(done.iter().collect::<PathBuf>()).join(&comp);
        let is_last = pending.is_empty();
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() && (!is_last || follow_last) => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ContextError::Invalid(format!(
                        "too many levels of symbolic links resolving {rel:?}"
                    )));
                }
                let target = fs::read_link(&candidate).map_err(io_err("read link", &candidate))?;
                if target.is_absolute() {
                    done.clear();
                }
                push_link_target(&mut pending, &target);
            }
            _ => done.push(comp),
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// Match a shell-style pattern (`*`, `?`) against one name.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The context paths a source names, wildcards in its last component expanded.
pub fn find_sources(context: &Path, src: &str) -> Result<Vec<PathBuf>, ContextError> {
    let parts = clean_rel(src);
    let last = parts.last().cloned().unwrap_or_default();
    if last.contains(['*', '?']) {
        let parent_rel = parts[..parts.len() - 1].join("/");
        let parent = resolve_in_root(context, &parent_rel, true)?;
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(&parent) {
            for e in rd.flatten() {
                let name = e.file_name();
                if glob_match(last.as_bytes(), name.to_string_lossy().as_bytes()) {
                    out.push(resolve_in_root(
                        context,
                        &format!("{parent_rel}/{}", name.to_string_lossy()),
                        true,
                    )?);
                }
            }
        }
        out.sort();
        if out.is_empty() {
            return Err(ContextError::Invalid(format!(
                "COPY failed: no source files were specified (nothing in the build context matches {src:?})"
            )));
        }
        return Ok(out);
    }
    let p = resolve_in_root(context, src, true)?;
    if fs::symlink_metadata(&p).is_err() {
        return Err(ContextError::Invalid(format!(
            "COPY failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
        )));
    }
    Ok(vec![p])
}

/// The docker CLI's context with a Dockerfile from outside the context
/// ends right after the last entry's data: no padding to the 512-byte
/// block, no end-of-archive blocks (measured: docker 28's
/// `ReplaceFileTarWrapper`), and dockerd reads it. Complete such a plain
/// tar with zeros, only when every entry's data is whole: a tar cut inside
/// an entry's data stays cut and is refused by the extractor.
pub fn complete_truncated_tar(path: &Path) -> Result<(), ContextError> {
    let mut f = File::options()
        .read(true)
        .append(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let len = f.metadata().map_err(io_err("stat", path))?.len();
    let mut header = [0u8; 512];
    let mut offset: u64 = 0;
    loop {
        if offset + 512 > len {
            break;
        }
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset))
            .map_err(io_err("read", path))?;
        f.read_exact(&mut header).map_err(io_err("read", path))?;
        if offset == 0 && header[..2] == [0x1f, 0x8b] {
            // gzip: whole as sent.
            return Ok(());
        }
        if header.iter().all(|b| *b == 0) {
            // An end-of-archive block: the tar is complete as sent.
            return Ok(());
        }
        let Some(size) = tar_size(&header[124..136]) else {
            return Ok(());
        };
        let data_end = offset + 512 + size;
        if data_end > len {
            // Cut inside the data: not ours to mend.
            return Ok(());
        }
        offset = data_end.div_ceil(512) * 512;
    }
    if offset < len || (offset == 0 && len == 0) {
        // Cut inside a header (or empty): left to the extractor's refusal.
        return Ok(());
    }
    let missing = (offset - len) as usize + 1024;
    io::Write::write_all(&mut f, &vec![0u8; missing]).map_err(io_err("write", path))
}

/// A tar header's size field: octal, or GNU base-256.
fn tar_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(v);
    }
    let text = std::str::from_utf8(field).ok()?;
    let t = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if t.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(t, 8).ok()
}

/// Docker's `removeDockerfile`: when `.dockerignore` names the Dockerfile
/// or itself, they leave the context once the Dockerfile is read, so
/// `COPY .` never puts them in the image.
pub fn drop_ignored_build_files(context: &Path, dockerfile: &str) -> Result<(), ContextError> {
    let path = context.join(".dockerignore");
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let rules = whale_formats::dockerignore::parse(&text);
    for name in [dockerfile, ".dockerignore"] {
        let rel = clean_rel(name).join("/");
        if rel.is_empty() || !whale_formats::dockerignore::ignored(&rules, &rel) {
            continue;
        }
        let p = context.join(&rel);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &p)(e)),
        }
    }
    Ok(())
}

/// sha256 over what a copy would produce: names, types, permission bits,
/// link targets and file contents; never mtimes, and owners only when the
/// copy keeps them (`with_owners`: COPY --from without --chown).
pub fn hash_sources(sources: &[PathBuf], with_owners: bool) -> Result<String, ContextError> {
    let mut h = Sha256::new();
    if with_owners {
        // Another domain than the context's hashes.
        h.update(b"owners\0");
    }
    let mut kind = "file";
    for src in sources {
        let m = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
        if m.is_dir() {
            kind = "dir";
        }
        hash_tree(&mut h, src, Path::new(""), with_owners)?;
    }
    if sources.len() > 1 {
        kind = "multi";
    }
    Ok(format!("{kind}:{}", hex::encode(h.finalize())))
}

fn hash_tree(h: &mut Sha256, abs: &Path, rel: &Path, owners: bool) -> Result<(), ContextError> {
    let m = fs::symlink_metadata(abs).map_err(io_err("stat", abs))?;
    let ft = m.file_type();
    h.update(rel.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update((m.mode() & 0o7777).to_le_bytes());
    if owners {
        h.update(m.uid().to_le_bytes());
        h.update(m.gid().to_le_bytes());
    }
    if ft.is_symlink() {
        h.update(b"l");
        let t = fs::read_link(abs).map_err(io_err("read link", abs))?;
        h.update(t.as_os_str().as_encoded_bytes());
    } else if ft.is_dir() {
        h.update(b"d");
        let mut names: Vec<_> = fs::read_dir(abs)
            .map_err(io_err("read directory", abs))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            hash_tree(h, &abs.join(&n), &rel.join(&n), owners)?;
        }
    } else if ft.is_file() {
        h.update(b"f");
        h.update(m.len().to_le_bytes());
        let mut f = File::open(abs).map_err(io_err("open", abs))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(io_err("read", abs))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    h.update([0xff]);
    Ok(())
}

/// sha256 of one file's bytes.
pub fn hash_file(p: &Path) -> Result<String, ContextError> {
    let mut h = Sha256::new();
    let mut f = File::open(p).map_err(io_err("open", p))?;
    io::copy(&mut f, &mut h).map_err(io_err("read", p))?;
    Ok(hex::encode(h.finalize()))
}

/// A path's metadata in the image, looked up through its layer dirs
/// (top-most first) the way overlayfs would: a whiteout or a non-directory
/// on the way hides what lies below, an opaque directory stops the search.
pub fn lookup_in_layers(layers: &[PathBuf], rel: &[String]) -> Option<(PathBuf, fs::Metadata)> {
    'layers: for layer in layers {
        let mut cur = layer.clone();
        for (i, comp) in rel.iter().enumerate() {
            cur.push(comp);
            let m = match fs::symlink_metadata(&cur) {
                Ok(m) => m,
                Err(_) => {
                    // Not in this layer: an opaque parent hides lower ones.
                    let parent = cur.parent().map(Path::to_path_buf).unwrap_or_default();
                    if i > 0
                        && xattr::get(&parent, crate::linux::userns::opaque_xattr())
                            .ok()
                            .flatten()
                            .as_deref()
                            == Some(b"y")
                    {
                        return None;
                    }
                    continue 'layers;
                }
            };
            if m.file_type().is_char_device() && m.rdev() == 0 {
                return None;
            }
            if i + 1 == rel.len() {
                return Some((cur, m));
            }
            if !m.is_dir() {
                return None;
            }
        }
        // The layer's root (layer dirs may be symlinks to it).
        return fs::metadata(layer).ok().map(|m| (layer.clone(), m));
    }
    None
}

/// Resolve `path` (absolute, in the image) following the image's own
/// symlinks (`/bin -> usr/bin` on merged-/usr systems), last component too
/// when `follow_last`. Returns the cleaned components.
pub fn resolve_in_image(layers: &[PathBuf], path: &str, follow_last: bool) -> Vec<String> {
    let mut pending = clean_rel(path);
    pending.reverse();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            done.pop();
            continue;
        }
        done.push(comp);
        let is_last = pending.is_empty();
        if is_last && !follow_last {
            break;
        }
        if let Some((p, m)) = lookup_in_layers(layers, &done) {
            if m.file_type().is_symlink() && hops < MAX_SYMLINK_HOPS {
                hops += 1;
                if let Ok(target) = fs::read_link(&p) {
                    done.pop();
                    if target.is_absolute() {
                        done.clear();
                    }
                    push_link_target(&mut pending, &target);
                }
            }
        }
    }
    done
}

/// Owner for copied files: `--chown=UID[:GID]` (numeric), else root.
pub fn parse_chown(chown: Option<&str>) -> Result<(u32, u32), ContextError> {
    let Some(c) = chown else { return Ok((0, 0)) };
    let (u, g) = c.split_once(':').unwrap_or((c, c));
    match (u.parse::<u32>(), g.parse::<u32>()) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        _ => Err(ContextError::Invalid(format!(
            "--chown={c}: whale's builder takes numeric UID[:GID] only; write the ids instead of names"
        ))),
    }
}

/// The staging tree: a directory laid out like the image root that
/// becomes one layer.
pub struct Stage<'a> {
    pub root: PathBuf,
    pub layers: &'a [PathBuf],
    /// `--chown`, else root for context files; None keeps the source's
    /// owner (COPY --from, as Docker keeps it).
    pub owner: Option<(u32, u32)>,
}

impl Stage<'_> {
    /// Create the parents of `rel` in the stage, copying mode, owner and
    /// mtime from the image where they exist there (so `COPY x /tmp/`
    /// keeps /tmp 1777), else 0755 root.
    pub fn ensure_dir(&self, rel: &[String]) -> Result<PathBuf, ContextError> {
        let mut cur = self.root.clone();
        for i in 0..rel.len() {
            cur.push(&rel[i]);
            if fs::symlink_metadata(&cur).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            fs::create_dir(&cur).map_err(io_err("create directory", &cur))?;
            match lookup_in_layers(self.layers, &rel[..=i]) {
                Some((_, m)) if m.is_dir() => {
                    fs::set_permissions(&cur, fs::Permissions::from_mode(m.mode() & 0o7777))
                        .map_err(io_err("set the mode of", &cur))?;
                    let _ = std::os::unix::fs::lchown(&cur, Some(m.uid()), Some(m.gid()));
                    let _ = set_mtime(&cur, m.mtime());
                }
                _ => {
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))
                        .map_err(io_err("set the mode of", &cur))?;
                    let _ = std::os::unix::fs::lchown(&cur, Some(0), Some(0));
                }
            }
        }
        Ok(cur)
    }

    /// Copy `src` (a file, symlink or directory tree) to `dst` in the stage.
    pub fn copy_tree(&self, src: &Path, dst: &Path) -> Result<(), ContextError> {
        let m = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
        let ft = m.file_type();
        if ft.is_dir() {
            if !fs::symlink_metadata(dst).is_ok_and(|d| d.is_dir()) {
                let _ = fs::remove_file(dst);
                fs::create_dir(dst).map_err(io_err("create directory", dst))?;
            }
            let mut names: Vec<_> = fs::read_dir(src)
                .map_err(io_err("read directory", src))?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for n in names {
                self.copy_tree(&src.join(&n), &dst.join(&n))?;
            }
        } else if ft.is_symlink() {
            let t = fs::read_link(src).map_err(io_err("read link", src))?;
            let _ = fs::remove_file(dst);
            std::os::unix::fs::symlink(&t, dst).map_err(io_err("create symlink", dst))?;
        } else if ft.is_file() {
            let _ = fs::remove_file(dst);
            fs::copy(src, dst).map_err(io_err("copy to", dst))?;
        } else {
            return Err(ContextError::Invalid(format!(
                "cannot copy {}: only files, directories and symlinks can be copied into an image",
                src.display()
            )));
        }
        let (uid, gid) = self.owner.unwrap_or((m.uid(), m.gid()));
        std::os::unix::fs::lchown(dst, Some(uid), Some(gid))
            .map_err(io_err("change the owner of", dst))?;
        if !ft.is_symlink() {
            fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(io_err("set the mode of", dst))?;
            set_mtime(dst, m.mtime()).map_err(io_err("set the mtime of", dst))?;
        }
        Ok(())
    }
}

fn set_mtime(p: &Path, secs: i64) -> io::Result<()> {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    let f = File::options()
        .read(true)
        .open(p)
        .or_else(|_| File::open(p))?;
    f.set_modified(t)
}

/// Is `p` a tar archive (plain or gzip) that ADD unpacks?
pub fn archive_kind(p: &Path) -> Option<bool> {
    let mut f = File::open(p).ok()?;
    let mut head = [0u8; 512];
    let n = read_full(&mut f, &mut head).ok()?;
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        let mut gz = flate2::read::GzDecoder::new(File::open(p).ok()?);
        let mut inner = [0u8; 512];
        let n = read_full(&mut gz, &mut inner).ok()?;
        return is_tar_header(&inner[..n]).then_some(true);
    }
    is_tar_header(&head[..n]).then_some(false)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A tar header (ustar or old v7): Docker's test is whether a tar reader
/// accepts the first header, so check the header checksum, not a magic.
fn is_tar_header(h: &[u8]) -> bool {
    if h.len() < 512 || h[0] == 0 {
        return false;
    }
    let field = &h[148..156];
    let digits: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .skip_while(|b| **b == b' ')
        .map(|b| *b as char)
        .collect();
    let digits = digits.trim();
    let Ok(want) = u32::from_str_radix(digits, 8) else {
        return false;
    };
    let sum: u32 = h[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                b' ' as u32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == want
}

/// Unpack a (possibly gzipped) tar into `dest` through the safe extractor.
pub fn extract_archive(p: &Path, gzip: bool, dest: &Path) -> Result<(), ContextError> {
    let f = File::open(p).map_err(io_err("open", p))?;
    let r: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    crate::image::extract::extract_layer(io::BufReader::new(r), dest)?;
    Ok(())
}

/// Queue a symlink's target for resolution: `pending` is a stack (last
/// component on top), so the target's components go on in reverse.
fn push_link_target(pending: &mut Vec<String>, target: &Path) {
    let parts = target.components().filter_map(|c| match c {
        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
        Component::ParentDir => Some("..".to_string()),
        _ => None,
    });
    let mut parts: Vec<String> = parts.collect();
    parts.reverse();
    pending.extend(parts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_dockerfile_and_dockerignore_leave_the_context() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        fs::write(
            c.join(".dockerignore"),
            "Dockerfile\n.dockerfile.abc\n.dockerignore\n",
        )
        .unwrap();
        fs::write(c.join("Dockerfile"), "FROM x").unwrap();
        fs::write(c.join(".dockerfile.abc"), "FROM x").unwrap();
        fs::write(c.join("keep"), "k").unwrap();
        drop_ignored_build_files(c, ".dockerfile.abc").unwrap();
        assert!(!c.join(".dockerfile.abc").exists());
        assert!(!c.join(".dockerignore").exists());
        // Only the Dockerfile of this build goes: another one is data.
        assert!(c.join("Dockerfile").exists() && c.join("keep").exists());
        // Nothing ignored: nothing removed.
        let d2 = tempfile::tempdir().unwrap();
        fs::write(d2.path().join(".dockerignore"), "*.log\n").unwrap();
        fs::write(d2.path().join("Dockerfile"), "FROM x").unwrap();
        drop_ignored_build_files(d2.path(), "Dockerfile").unwrap();
        assert!(d2.path().join("Dockerfile").exists());
        assert!(d2.path().join(".dockerignore").exists());
    }

    #[test]
    fn a_tar_without_its_last_padding_is_completed() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("a", &b"hello"[..]), (".dockerignore", &b"x\ny\n"[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        let full = b.into_inner().unwrap();
        // As docker's CLI sends it: cut right after the last data.
        let cut = &full[..512 * 3 + 4];
        let p = d.path().join("ctx.tar");
        fs::write(&p, cut).unwrap();
        complete_truncated_tar(&p).unwrap();
        let mended = fs::read(&p).unwrap();
        let mut a = tar::Archive::new(&mended[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a", ".dockerignore"]);
        // Cut inside the data: left alone.
        let cut = &full[..512 * 3 + 2];
        fs::write(&p, cut).unwrap();
        complete_truncated_tar(&p).unwrap();
        assert_eq!(fs::read(&p).unwrap(), cut);
        // Complete: left alone.
        fs::write(&p, &full).unwrap();
        complete_truncated_tar(&p).unwrap();
        assert_eq!(fs::read(&p).unwrap(), full);
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*.txt", b"a.txt"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(!glob_match(b"*.txt", b"a.txt.bak"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn symlinks_never_leave_the_context() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("sub/up")).unwrap();
        assert_eq!(
            resolve_in_root(root, "abs/passwd", true).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(root, "sub/up/x", true).unwrap(),
            root.join("x")
        );
        assert_eq!(
            resolve_in_root(root, "../../x", true).unwrap(),
            root.join("x")
        );
        assert!(find_sources(root, "abs/passwd").is_err());
    }

    #[test]
    fn content_hash_ignores_mtime_but_not_content() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, "one").unwrap();
        let h1 = hash_sources(std::slice::from_ref(&f), false).unwrap();
        assert!(h1.starts_with("file:"));
        set_mtime(&f, 12345).unwrap();
        assert_eq!(hash_sources(std::slice::from_ref(&f), false).unwrap(), h1);
        fs::write(&f, "two").unwrap();
        assert_ne!(hash_sources(std::slice::from_ref(&f), false).unwrap(), h1);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        let h3 = hash_sources(std::slice::from_ref(&f), false).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert_ne!(hash_sources(std::slice::from_ref(&f), false).unwrap(), h3);
        assert!(hash_sources(&[d.path().to_path_buf()], false)
            .unwrap()
            .starts_with("dir:"));
        // Owners count only where the copy keeps them (COPY --from).
        let (plain, owned) = (
            hash_sources(std::slice::from_ref(&f), false).unwrap(),
            hash_sources(std::slice::from_ref(&f), true).unwrap(),
        );
        if std::os::unix::fs::lchown(&f, Some(4242), Some(4242)).is_ok() {
            assert_eq!(
                hash_sources(std::slice::from_ref(&f), false).unwrap(),
                plain
            );
            assert_ne!(hash_sources(std::slice::from_ref(&f), true).unwrap(), owned);
        }
    }

    #[test]
    fn image_lookup_honours_whiteouts_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let (top, low) = (d.path().join("top"), d.path().join("low"));
        fs::create_dir_all(low.join("usr/bin")).unwrap();
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::write(low.join("etc/gone"), "x").unwrap();
        std::os::unix::fs::symlink("usr/bin", low.join("bin")).unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        crate::image::extract::make_whiteout(&top.join("etc/gone")).unwrap();
        let layers = vec![top, low];
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(lookup_in_layers(&layers, &s(&["etc", "gone"])).is_none());
        assert!(lookup_in_layers(&layers, &s(&["usr", "bin"])).is_some());
        assert_eq!(
            resolve_in_image(&layers, "/bin/x", false),
            s(&["usr", "bin", "x"])
        );
        assert_eq!(resolve_in_image(&layers, "/etc/", true), s(&["etc"]));
    }

    #[test]
    fn tar_detection_accepts_v7_and_ustar_only() {
        let d = tempfile::tempdir().unwrap();
        for gnu in [true, false] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = if gnu {
                tar::Header::new_gnu()
            } else {
                tar::Header::new_old()
            };
            h.set_path("f").unwrap();
            h.set_size(1);
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
            let p = d.path().join("t.tar");
            fs::write(&p, b.into_inner().unwrap()).unwrap();
            assert_eq!(archive_kind(&p), Some(false));
        }
        let p = d.path().join("plain");
        fs::write(&p, vec![b'a'; 1024]).unwrap();
        assert_eq!(archive_kind(&p), None);
    }

    #[test]
    fn chown_forms() {
        assert_eq!(parse_chown(None).unwrap(), (0, 0));
        assert_eq!(parse_chown(Some("5:6")).unwrap(), (5, 6));
        assert_eq!(parse_chown(Some("7")).unwrap(), (7, 7));
        assert!(parse_chown(Some("app")).is_err());
    }
}
