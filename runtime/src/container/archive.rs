//! A container's file system as it sees it, without entering it: read
//! (`docker cp` out of it, through the layers) and written (`docker cp`
//! into it, through the `whale copy-in` helper).
//!
//! Reading: the overlay is mounted only inside the container's mount
//! namespace (and not at all once it stopped), so a path is resolved
//! through the layers here: the container's upper dir, then the image
//! layers top-most first, with overlay whiteouts and opaque dirs honoured
//! and every symlink resolved against the container root, never the host's.

use super::Container;
use crate::linux::copy_in::{self, CopyIn as CopyInSpec, Target};
use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Linux's limit on symlinks followed while resolving one path.
const MAX_SYMLINKS: usize = 40;

/// A path found in the union of the layers.
#[derive(Debug)]
pub struct Found {
    /// The resolved path below the container root (no symlinks before the
    /// last component, no `..`); empty for the root itself.
    pub rel: PathBuf,
    /// Metadata of the top-most layer's entry.
    pub meta: fs::Metadata,
    /// Where its content is on the host: in the top-most layer having it,
    /// or the engine's bind-mounted file.
    pub src: PathBuf,
    /// For a directory: the layers whose copy of it is merged, top-most first.
    pub dir_layers: Vec<usize>,
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    xattr::get(p, "trusted.overlay.opaque")
        .ok()
        .flatten()
        .as_deref()
        == Some(b"y")
}

/// The layers (among `candidates`, top-most first) whose entry at `rel` is a
/// directory that takes part in the merge: down to the first opaque one or
/// the first that has a non-directory there.
fn merged_dir_layers(layers: &[PathBuf], candidates: &[usize], rel: &Path) -> Vec<usize> {
    let mut out = Vec::new();
    for &i in candidates {
        let p = layers[i].join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                out.push(i);
                if is_opaque(&p) {
                    break;
                }
            }
            Ok(_) => break,
            Err(_) => {}
        }
    }
    out
}

/// Look `name` up in the directory `dir_rel` whose merged layers are
/// `dir_layers`: the top-most layer having it decides; a whiteout hides it.
/// A file the engine bind-mounts over the rootfs (`/etc/hosts`, ...) shows
/// its host file, as it does inside the container.
fn child(
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    dir_layers: &[usize],
    dir_rel: &Path,
    name: &OsStr,
) -> Option<(usize, fs::Metadata, PathBuf)> {
    let rel = dir_rel.join(name);
    let found = dir_layers.iter().find_map(|&i| {
        fs::symlink_metadata(layers[i].join(&rel))
            .ok()
            .map(|m| (i, m))
    });
    let top = found.as_ref().map(|f| f.0).unwrap_or(0);
    if let Some((_, host)) = binds.iter().find(|(dest, _)| *dest == rel) {
        if let Ok(m) = fs::metadata(host) {
            return Some((top, m, host.clone()));
        }
    }
    let (i, m) = found?;
    if is_whiteout(&m) {
        None
    } else {
        Some((i, m, layers[i].join(&rel)))
    }
}

fn components_of(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Resolve `path` (as seen inside the container) through `layers`, top-most
/// first. Symlinks before the last component are followed inside the
/// container root (`..` stops at the root); the last one only when
/// `follow_last`. `Ok(None)` when nothing is there.
pub fn lookup(
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    path: &str,
    follow_last: bool,
) -> io::Result<Option<Found>> {
    let all: Vec<usize> = (0..layers.len()).collect();
    let root_layers = merged_dir_layers(layers, &all, Path::new(""));
    let mut pending: Vec<OsString> = components_of(Path::new(path));
    pending.reverse(); // a stack: the next component is last
    let mut cur: Vec<OsString> = Vec::new();
    let mut cur_layers = root_layers.clone();
    let mut hops = 0;
    let rel_of = |c: &[OsString]| c.iter().collect::<PathBuf>();
    while let Some(name) = pending.pop() {
        if name == ".." {
            cur.pop();
            // Re-walk from the root: every element of `cur` is a real dir.
            cur_layers = root_layers.clone();
            for i in 0..cur.len() {
                cur_layers = merged_dir_layers(layers, &cur_layers, &rel_of(&cur[..=i]));
            }
            continue;
        }
        let dir_rel = rel_of(&cur);
        let Some((idx, meta, src)) = child(layers, binds, &cur_layers, &dir_rel, &name) else {
            return Ok(None);
        };
        let last = pending.is_empty();
        if meta.file_type().is_symlink() && (!last || follow_last) {
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(io::Error::other(format!(
                    "too many levels of symbolic links resolving {path}"
                )));
            }
            let target = fs::read_link(&src)?;
            if target.is_absolute() {
                cur.clear();
                cur_layers = root_layers.clone();
            }
            let mut t = components_of(&target);
            t.reverse();
            pending.extend(t);
            continue;
        }
        let rel = dir_rel.join(&name);
        if meta.is_dir() {
            let dl = merged_dir_layers(
                layers,
                &cur_layers[cur_layers.iter().position(|&i| i == idx).unwrap_or(0)..],
                &rel,
            );
            cur.push(name);
            cur_layers = dl;
            if last {
                return Ok(Some(Found {
                    rel,
                    meta,
                    src,
                    dir_layers: cur_layers,
                }));
            }
            continue;
        }
        if last {
            return Ok(Some(Found {
                rel,
                meta,
                src,
                dir_layers: Vec::new(),
            }));
        }
        // A file in the middle of a path: ENOTDIR, which Docker reports as absent.
        return Ok(None);
    }
    // The path named the root (or climbed back to a directory).
    let rel = rel_of(&cur);
    let Some(&top) = cur_layers.first() else {
        return Ok(None);
    };
    let src = layers[top].join(&rel);
    let meta = fs::symlink_metadata(&src)?;
    Ok(Some(Found {
        rel,
        meta,
        src,
        dir_layers: cur_layers,
    }))
}

/// The visible children of a merged directory, sorted, with the layer that
/// provides each.
pub fn children(
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    dir_layers: &[usize],
    rel: &Path,
) -> Vec<(OsString, usize, fs::Metadata, PathBuf)> {
    let mut names = BTreeSet::new();
    for &i in dir_layers {
        if let Ok(rd) = fs::read_dir(layers[i].join(rel)) {
            names.extend(rd.flatten().map(|e| e.file_name()));
        }
    }
    // A bind mount shows even where the layers lack its mount point.
    names.extend(
        binds
            .iter()
            .filter(|(dest, _)| dest.parent() == Some(rel))
            .filter_map(|(dest, _)| dest.file_name().map(OsStr::to_os_string)),
    );
    names
        .into_iter()
        .filter_map(|n| child(layers, binds, dir_layers, rel, &n).map(|(i, m, p)| (n, i, m, p)))
        .collect()
}

/// Go's `os.FileMode` bits, which Docker's path stat carries.
fn go_mode(m: &fs::Metadata) -> u32 {
    let mode = m.mode();
    let ft = m.file_type();
    let mut out = mode & 0o777;
    if mode & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        out |= 1 << 20;
    }
    if ft.is_dir() {
        out |= 1 << 31;
    } else if ft.is_symlink() {
        out |= 1 << 27;
    } else if ft.is_block_device() {
        out |= 1 << 26;
    } else if ft.is_char_device() {
        out |= (1 << 26) | (1 << 21);
    } else if ft.is_fifo() {
        out |= 1 << 25;
    } else if ft.is_socket() {
        out |= 1 << 24;
    }
    out
}

fn base_name(rel: &Path) -> String {
    rel.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".to_string())
}

/// Docker's `X-Docker-Container-Path-Stat` JSON.
fn path_stat(
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    path: &str,
    f: &Found,
) -> serde_json::Value {
    let link_target = if f.meta.file_type().is_symlink() {
        lookup(layers, binds, path, true)
            .ok()
            .flatten()
            .map(|t| format!("/{}", t.rel.display()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(f.meta.mtime(), f.meta.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    serde_json::json!({
        "name": base_name(&f.rel),
        "size": f.meta.len(),
        "mode": go_mode(&f.meta),
        "mtime": mtime,
        "linkTarget": link_target,
    })
}

/// Write the entry `f` (and, for a directory, the merged tree below it) as
/// a tar whose top entry is named after its last path component.
pub fn write_tar(
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    f: &Found,
    out: impl Write,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let name = f
        .rel
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut links = HashMap::new();
    append(&mut tar, &f.src, &f.meta, &name, &mut links)?;
    if f.meta.is_dir() {
        walk(
            &mut tar,
            layers,
            binds,
            &f.dir_layers,
            &f.rel,
            &name,
            &mut links,
        )?;
    }
    tar.into_inner()?.flush()
}

fn walk(
    tar: &mut tar::Builder<impl Write>,
    layers: &[PathBuf],
    binds: &[(PathBuf, PathBuf)],
    dir_layers: &[usize],
    rel: &Path,
    name: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for (n, idx, meta, src) in children(layers, binds, dir_layers, rel) {
        let (crel, cname) = (rel.join(&n), name.join(&n));
        append(tar, &src, &meta, &cname, links)?;
        if meta.is_dir() {
            let from = dir_layers.iter().position(|&i| i == idx).unwrap_or(0);
            let dl = merged_dir_layers(layers, &dir_layers[from..], &crel);
            walk(tar, layers, binds, &dl, &crel, &cname, links)?;
        }
    }
    Ok(())
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    abs: &Path,
    meta: &fs::Metadata,
    name: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    if meta.is_file() && meta.nlink() > 1 {
        // Hard links (busybox's applets) travel once, then as links.
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            let mut h = tar::Header::new_gnu();
            h.set_metadata(meta);
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            return tar.append_link(&mut h, name, first);
        }
        links.insert((meta.dev(), meta.ino()), name.to_path_buf());
    }
    let ft = meta.file_type();
    if meta.is_dir() || meta.is_file() || ft.is_symlink() {
        tar.append_path_with_name(abs, name)
    } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(meta);
        h.set_size(0);
        h.set_entry_type(if ft.is_fifo() {
            tar::EntryType::Fifo
        } else if ft.is_char_device() {
            tar::EntryType::Char
        } else {
            tar::EntryType::Block
        });
        let (major, minor) = (
            ((meta.rdev() >> 8) & 0xfff) as u32,
            ((meta.rdev() & 0xff) | ((meta.rdev() >> 12) & 0xfff00)) as u32,
        );
        h.set_device_major(major)?;
        h.set_device_minor(minor)?;
        tar.append_data(&mut h, name, io::empty())
    } else {
        Ok(()) // sockets do not travel in tars
    }
}

/// The union of a container's layers, with the engine's files bound over
/// them, as its processes see it.
#[derive(Debug, Clone)]
pub struct RootView {
    layers: Vec<PathBuf>,
    binds: Vec<(PathBuf, PathBuf)>,
}

impl RootView {
    /// `c`'s view, over `image_layers` (the image store's dirs, top-most
    /// first).
    pub fn new(c: &Container, image_layers: Vec<PathBuf>) -> RootView {
        let mut layers = vec![c.paths.upper()];
        layers.extend(c.paths.lower_dirs(image_layers));
        // Layer dirs may be short symlinks; resolve them once, on the host.
        let layers = layers
            .into_iter()
            .map(|l| fs::canonicalize(&l).unwrap_or(l))
            .collect();
        let binds = crate::linux::mount::ENGINE_FILES
            .iter()
            .map(|(dest, file)| (PathBuf::from(dest), c.paths.dir.join(file)))
            .collect();
        RootView { layers, binds }
    }

    /// What is at `path`, if anything (see [`lookup`]).
    pub fn lookup(&self, path: &str, follow_last: bool) -> io::Result<Option<Found>> {
        lookup(&self.layers, &self.binds, path, follow_last)
    }

    /// Docker's `X-Docker-Container-Path-Stat` JSON of `f`, found at `path`.
    pub fn path_stat(&self, path: &str, f: &Found) -> serde_json::Value {
        path_stat(&self.layers, &self.binds, path, f)
    }

    /// `f` (and for a directory, the merged tree below it) as a tar.
    pub fn write_tar(&self, f: &Found, out: impl Write) -> io::Result<()> {
        write_tar(&self.layers, &self.binds, f, out)
    }
}

// ---------------------------------------------------------------- copy-in

/// Where a copy into a container unpacks.
#[derive(Debug, Clone)]
pub enum CopyInto {
    /// The container runs: into its init's root, with its own mounts.
    Running { pid: i32 },
    /// It does not: into its overlay over `image_layers` (the image store's
    /// dirs, top-most first), mounted privately for the copy.
    Stopped { image_layers: Vec<PathBuf> },
}

/// Why a copy into a container failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyInError {
    #[error("copy-in spec: {0}")]
    Spec(serde_json::Error),
    #[error("cannot start whale copy-in: {0}")]
    Spawn(io::Error),
    #[error("waiting for whale copy-in: {0}")]
    Wait(io::Error),
    #[error("the destination directory does not exist")]
    NoDestination,
    /// The helper's words.
    #[error("{0}")]
    NotADirectory(String),
    #[error("{0}")]
    Failed(String),
}

/// A running `whale copy-in`: feed it the tar, then [`CopyIn::finish`].
///
/// It runs in a process of its own because it changes its root (see
/// `linux::copy_in`); the caller must keep the container from starting,
/// stopping or being removed until it is finished: a stopped container's
/// overlay is mounted by the helper, and only one mount may use its work dir.
pub struct CopyIn {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    write_failed: bool,
}

impl CopyIn {
    /// Start unpacking into the directory `dest` (absolute, as the
    /// container sees it) of `c`.
    pub fn spawn(c: &Container, dest: &str, into: CopyInto) -> Result<CopyIn, CopyInError> {
        let target = match into {
            CopyInto::Running { pid } => Target::Running { pid },
            CopyInto::Stopped { image_layers } => Target::Stopped {
                lower_dirs: c.paths.lower_dirs(image_layers),
                upper_dir: c.paths.upper(),
                work_dir: c.paths.work(),
                merged_dir: c.paths.merged(),
            },
        };
        let spec = serde_json::to_string(&CopyInSpec {
            dest: dest.to_string(),
            target,
        })
        .map_err(CopyInError::Spec)?;
        let mut child = tokio::process::Command::new(crate::shim::client::shim_bin())
            .arg("copy-in")
            .arg(spec)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(CopyInError::Spawn)?;
        let stdin = child.stdin.take();
        Ok(CopyIn {
            child,
            write_failed: stdin.is_none(),
            stdin,
        })
    }

    /// Feed the next piece of the tar. False once the helper stopped
    /// reading (it failed; [`CopyIn::finish`] says why): send no more.
    pub async fn write(&mut self, data: &[u8]) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        if stdin.write_all(data).await.is_err() {
            self.write_failed = true;
            self.stdin = None;
        }
        !self.write_failed
    }

    /// End the tar and wait for the helper's verdict.
    pub async fn finish(mut self) -> Result<(), CopyInError> {
        drop(self.stdin.take());
        let out = self
            .child
            .wait_with_output()
            .await
            .map_err(CopyInError::Wait)?;
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        match out.status.code() {
            Some(0) if !self.write_failed => Ok(()),
            Some(copy_in::EXIT_NO_DEST) => Err(CopyInError::NoDestination),
            Some(copy_in::EXIT_NOT_DIR) => Err(CopyInError::NotADirectory(why)),
            _ => Err(CopyInError::Failed(if why.is_empty() {
                "the archive ended early".to_string()
            } else {
                why
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::symlink;

    /// top (upper) over low over base.
    fn tree() -> (tempfile::TempDir, Vec<PathBuf>) {
        let t = tempfile::tempdir().unwrap();
        let (top, low, base) = (
            t.path().join("top"),
            t.path().join("low"),
            t.path().join("base"),
        );
        for d in ["etc", "opq", "bin", "data"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        fs::write(base.join("etc/group"), "g").unwrap();
        fs::write(base.join("etc/kept"), "base").unwrap();
        fs::write(base.join("opq/hidden"), "h").unwrap();
        fs::write(base.join("bin/busybox"), "bb").unwrap();
        fs::write(base.join("data/from-base"), "b").unwrap();
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(low.join("data")).unwrap();
        fs::write(low.join("etc/kept"), "low").unwrap();
        fs::write(low.join("data/from-low"), "l").unwrap();
        symlink("../../../../etc", low.join("data/up")).unwrap();
        symlink("/etc/kept", low.join("abs")).unwrap();
        symlink("/../../../../../etc", low.join("escape")).unwrap();
        symlink("/bin/busybox", base.join("bin/sh")).unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(top.join("opq")).unwrap();
        fs::create_dir_all(top.join("tmp")).unwrap();
        fs::write(top.join("tmp/x"), "hello").unwrap();
        fs::write(top.join("opq/new"), "n").unwrap();
        xattr::set(top.join("opq"), "trusted.overlay.opaque", b"y").unwrap();
        crate::linux::fs::make_whiteout(&top.join("etc/group")).unwrap();
        (t, vec![top, low, base])
    }

    fn read(layers: &[PathBuf], p: &str) -> Option<String> {
        let f = lookup(layers, &[], p, true).unwrap()?;
        fs::read_to_string(&f.src).ok()
    }

    #[test]
    fn upper_hides_lower_and_whiteouts_hide() {
        let (_t, l) = tree();
        assert_eq!(read(&l, "/etc/kept").as_deref(), Some("low"));
        assert_eq!(read(&l, "/tmp/x").as_deref(), Some("hello"));
        assert!(lookup(&l, &[], "/etc/group", false).unwrap().is_none());
        assert!(lookup(&l, &[], "/nope", false).unwrap().is_none());
        assert!(lookup(&l, &[], "/tmp/x/y", false).unwrap().is_none());
    }

    #[test]
    fn opaque_dirs_hide_lower_children() {
        let (_t, l) = tree();
        assert!(lookup(&l, &[], "/opq/hidden", false).unwrap().is_none());
        let f = lookup(&l, &[], "/opq", false).unwrap().unwrap();
        let names: Vec<_> = children(&l, &[], &f.dir_layers, &f.rel)
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(names, [OsString::from("new")]);
        let f = lookup(&l, &[], "/etc", false).unwrap().unwrap();
        let names: Vec<_> = children(&l, &[], &f.dir_layers, &f.rel)
            .into_iter()
            .map(|c| c.0.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["kept"], "group is whited out");
        let f = lookup(&l, &[], "/data", false).unwrap().unwrap();
        assert_eq!(children(&l, &[], &f.dir_layers, &f.rel).len(), 3);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_t, l) = tree();
        assert_eq!(read(&l, "/abs").as_deref(), Some("low"));
        assert_eq!(read(&l, "/data/up/kept").as_deref(), Some("low"));
        assert_eq!(read(&l, "/escape/kept").as_deref(), Some("low"));
        assert_eq!(read(&l, "/../../etc/kept").as_deref(), Some("low"));
        assert_eq!(read(&l, "/bin/sh").as_deref(), Some("bb"));
        // Not following the last symlink gives the link itself.
        let f = lookup(&l, &[], "/bin/sh", false).unwrap().unwrap();
        assert!(f.meta.file_type().is_symlink());
        let stat = path_stat(&l, &[], "/bin/sh", &f);
        assert_eq!(stat["linkTarget"], "/bin/busybox");
        assert_eq!(stat["name"], "sh");
        assert_eq!(stat["mode"].as_u64().unwrap() & (1 << 27), 1 << 27);
    }

    #[test]
    fn engine_bind_mounts_show_their_host_file() {
        let (t, l) = tree();
        let host = t.path().join("hostname");
        fs::write(&host, "box\n").unwrap();
        let binds = [(PathBuf::from("etc/hostname"), host.clone())];
        let f = lookup(&l, &binds, "/etc/hostname", false).unwrap().unwrap();
        assert_eq!(f.src, host);
        assert_eq!(f.meta.len(), 4);
        let f = lookup(&l, &binds, "/etc", false).unwrap().unwrap();
        let mut buf = Vec::new();
        write_tar(&l, &binds, &f, &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut got = BTreeMap::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let mut s = String::new();
            io::Read::read_to_string(&mut e, &mut s).unwrap();
            got.insert(e.path().unwrap().display().to_string(), s);
        }
        assert_eq!(got.get("etc/hostname").map(String::as_str), Some("box\n"));
        assert_eq!(got.get("etc/kept").map(String::as_str), Some("low"));
        assert!(!got.contains_key("etc/group"));
    }

    #[test]
    fn symlink_loops_are_an_error() {
        let t = tempfile::tempdir().unwrap();
        symlink("/b", t.path().join("a")).unwrap();
        symlink("/a", t.path().join("b")).unwrap();
        assert!(lookup(&[t.path().to_path_buf()], &[], "/a/x", false).is_err());
    }

    #[test]
    fn tars_a_merged_directory_under_its_base_name() {
        let (_t, l) = tree();
        let f = lookup(&l, &[], "/data", false).unwrap().unwrap();
        let mut buf = Vec::new();
        write_tar(&l, &[], &f, &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["data", "data/from-base", "data/from-low", "data/up"]
        );
        let f = lookup(&l, &[], "/tmp/x", false).unwrap().unwrap();
        let mut buf = Vec::new();
        write_tar(&l, &[], &f, &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("x"));
        let mut s = String::new();
        io::Read::read_to_string(&mut e, &mut s).unwrap();
        assert_eq!(s, "hello");
    }
}
