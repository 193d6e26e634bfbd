//! `GET|HEAD /containers/{id}/archive?path=P` (what `docker cp` reads): a
//! tar of the file or directory at P as the container sees it.
//!
//! The overlay is mounted only inside the container's mount namespace (and
//! not at all once it stopped), so the path is resolved through the layers
//! here: the container's upper dir, then the image layers top-most first,
//! with overlay whiteouts and opaque dirs honoured and every symlink
//! resolved against the container root, never the host's.

use super::http::{response, ApiError, ApiResult, Body, Query};
use super::images_io::{ChannelWriter, CHUNK};
use super::Daemon;
use hyper::StatusCode;
use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The files the shim bind-mounts from the container's dir (see
/// `shim::write_etc_files`): where they appear, and their name there.
const ENGINE_FILES: &[(&str, &str)] = &[
    ("etc/hostname", "hostname"),
    ("etc/hosts", "hosts"),
    ("etc/resolv.conf", "resolv.conf"),
];

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

/// Standard base64 with padding (the header Docker clients decode).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET` (tar + stat header) or `HEAD` (stat header only).
pub async fn handle(d: &Arc<Daemon>, id: &str, q: &Query, head: bool) -> ApiResult {
    let c = d.containers.get(id)?;
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("the archive endpoint needs a path: add ?path=/file/in/container")
        })?
        .to_string();
    let name = c.record.name.trim_start_matches('/').to_string();
    let img = d
        .images
        .resolve(&c.record.image_id)
        .map_err(|e| ApiError::internal(format!("image of container {name}: {e}")))?;
    let mut layers = vec![c.paths.upper()];
    layers.extend(
        c.paths.lower_dirs(
            d.images
                .layer_dirs(&img)
                .map_err(|e| ApiError::internal(format!("layers of container {name}: {e}")))?,
        ),
    );
    // Layer dirs may be short symlinks; resolve them once, on the host.
    let layers: Vec<PathBuf> = layers
        .into_iter()
        .map(|l| fs::canonicalize(&l).unwrap_or(l))
        .collect();
    let binds: Vec<(PathBuf, PathBuf)> = ENGINE_FILES
        .iter()
        .map(|(dest, file)| (PathBuf::from(dest), c.paths.dir.join(file)))
        .collect();
    // A trailing "/" or "/." asks for what a final symlink points to.
    let follow_last = path.ends_with('/') || path.ends_with("/.");
    let (l2, b2, p2) = (layers.clone(), binds.clone(), path.clone());
    let found = tokio::task::spawn_blocking(move || {
        let f = lookup(&l2, &b2, &p2, follow_last)?;
        Ok::<_, io::Error>(f.map(|f| {
            let stat = path_stat(&l2, &b2, &p2, &f);
            (f, stat)
        }))
    })
    .await
    .map_err(|e| ApiError::internal(format!("resolving {path}: {e}")))?
    .map_err(|e| ApiError::bad_request(format!("resolving {path} in container {name}: {e}")))?;
    let Some((found, stat)) = found else {
        return Err(ApiError::not_found(format!(
            "Could not find the file {path} in container {name}"
        )));
    };
    let stat = base64(stat.to_string().as_bytes());
    let body = if head {
        Body::empty()
    } else {
        let (tx, body) = Body::channel();
        tokio::task::spawn_blocking(move || {
            let w = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            };
            if let Err(e) = write_tar(&layers, &binds, &found, w) {
                eprintln!("whale daemon: archive of {path}: {e}");
            }
        });
        body
    };
    let mut r = response(StatusCode::OK, "application/x-tar", body);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&stat) {
        r.headers_mut().insert("X-Docker-Container-Path-Stat", v);
    }
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=DIR`: unpack the tar body into DIR
/// of the container, running or not, through the `whale copy-in` helper
/// (see `linux::copy_in`). Docker's answers: 404 when DIR does not exist,
/// 400 when it is not a directory.
pub async fn put(
    d: &Arc<Daemon>,
    id: &str,
    q: &Query,
    req: hyper::Request<hyper::body::Incoming>,
) -> ApiResult {
    use crate::linux::copy_in::{CopyIn, Target, EXIT_NOT_DIR, EXIT_NO_DEST};
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    let c = d.containers.get(id)?;
    let name = c.record.name.trim_start_matches('/').to_string();
    let path = q
        .get("path")
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| {
            ApiError::bad_request(
                "the archive endpoint needs an absolute path: add ?path=/dir/in/container",
            )
        })?
        .to_string();
    // No start, stop or removal while we write: a stopped container's
    // overlay is mounted by the helper, and only one mount may use its
    // work dir.
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    let target = if st.running() {
        Target::Running { pid: st.pid }
    } else {
        let img = d
            .images
            .resolve(&c.record.image_id)
            .map_err(|e| ApiError::internal(format!("image of container {name}: {e}")))?;
        let layers = d
            .images
            .layer_dirs(&img)
            .map_err(|e| ApiError::internal(format!("layers of container {name}: {e}")))?;
        Target::Stopped {
            lower_dirs: c.paths.lower_dirs(layers),
            upper_dir: c.paths.upper(),
            work_dir: c.paths.work(),
            merged_dir: c.paths.merged(),
        }
    };
    let spec = serde_json::to_string(&CopyIn {
        dest: path.clone(),
        target,
    })
    .map_err(|e| ApiError::internal(format!("copy-in spec: {e}")))?;
    let mut child = tokio::process::Command::new(crate::shim::client::shim_bin())
        .arg("copy-in")
        .arg(spec)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ApiError::internal(format!("cannot start whale copy-in: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| ApiError::internal("whale copy-in has no stdin"))?;
    let mut body = req.into_body();
    let mut write_failed = false;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data() {
            // The helper stops reading when it fails; its stderr says why.
            if stdin.write_all(&data).await.is_err() {
                write_failed = true;
                break;
            }
        }
    }
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| ApiError::internal(format!("waiting for whale copy-in: {e}")))?;
    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) if !write_failed => no_content_ok(),
        Some(EXIT_NO_DEST) => Err(ApiError::not_found(format!(
            "Could not find the file {path} in container {name}"
        ))),
        Some(EXIT_NOT_DIR) => Err(ApiError::bad_request(why)),
        _ => Err(ApiError::internal(format!(
            "copying into {path} of container {name}: {}",
            if why.is_empty() {
                "the archive ended early"
            } else {
                &why
            }
        ))),
    }
}

/// Docker answers a successful PUT archive with 200 and no body.
fn no_content_ok() -> ApiResult {
    Ok(response(StatusCode::OK, "text/plain", Body::empty()))
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
        crate::image::extract::make_whiteout(&top.join("etc/group")).unwrap();
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
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
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
