//! The mounts a user asks for (`-v`, `--mount`, `--tmpfs`) and a read-only
//! root (`--read-only`), set up in the container's mount namespace before
//! pivot_root.
//!
//! A target is resolved INSIDE the container's root: a symlink in the image
//! is followed as the container would see it (an absolute link restarts at
//! the container's root, `..` stops there), never into the host's tree,
//! which is what the merged dir's absolute links would otherwise name.

use crate::mount::{mount, prepare_target, MountError};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// Symlinks followed while resolving one target, as the kernel's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

/// What is mounted at a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSource {
    /// A host path (a bind mount, or a volume's `_data` dir), recursively.
    Bind {
        source: PathBuf,
        /// A new, empty volume: fill it first with what the image has at
        /// the target (Docker's copy-up).
        #[serde(default)]
        copy_up: bool,
    },
    /// A fresh tmpfs with these mount flags and data (`size=..,mode=..`).
    Tmpfs { flags: u64, data: String },
}

/// One mount of the container, at an absolute path inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMount {
    pub target: String,
    pub readonly: bool,
    #[serde(flatten)]
    pub source: MountSource,
}

/// Resolve `target` (absolute, inside the container) against `root` the
/// way the container would: the result is relative to `root` and names no
/// symlink on the way.
pub fn resolve_in_root(root: &Path, target: &str) -> Result<String, MountError> {
    let invalid = |why: &str| MountError::Io {
        what: "resolve",
        path: PathBuf::from(target),
        source: io::Error::new(io::ErrorKind::InvalidInput, why.to_string()),
    };
    let mut todo: Vec<String> = target.split('/').rev().map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = root.join(done.join("/")).join(&part);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(invalid("too many levels of symbolic links"));
                }
                let dest = std::fs::read_link(&here).map_err(|source| MountError::Io {
                    what: "read symlink",
                    path: here.clone(),
                    source,
                })?;
                let dest = dest.to_string_lossy().into_owned();
                if dest.starts_with('/') {
                    done.clear();
                }
                todo.extend(dest.split('/').rev().map(str::to_string));
            }
            _ => done.push(part),
        }
    }
    Ok(done.join("/"))
}

/// Mount each of `mounts` under the merged dir `root`, parents first.
pub fn mount_all(root: &Path, mounts: &[UserMount]) -> Result<(), MountError> {
    let mut order: Vec<&UserMount> = mounts.iter().collect();
    order.sort_by_key(|m| m.target.split('/').filter(|p| !p.is_empty()).count());
    for m in order {
        let rel = resolve_in_root(root, &m.target)?;
        match &m.source {
            MountSource::Bind { source, copy_up } => {
                let is_dir = std::fs::metadata(source)
                    .map_err(|e| MountError::Io {
                        what: "use bind source",
                        path: source.clone(),
                        source: e,
                    })?
                    .is_dir();
                if *copy_up {
                    copy_up_into(&root.join(&rel), source)?;
                }
                let target = prepare_target(root, &rel, is_dir.then_some(0o755))?;
                mount(
                    Some(source),
                    &target,
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )?;
                if m.readonly {
                    mount(
                        None,
                        &target,
                        None,
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC,
                        None,
                    )?;
                }
            }
            MountSource::Tmpfs { flags, data } => {
                let target = prepare_target(root, &rel, Some(0o755))?;
                let ro = if m.readonly { libc::MS_RDONLY } else { 0 };
                mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    *flags | ro,
                    Some(data),
                )?;
            }
        }
    }
    Ok(())
}

/// `--read-only`: after pivot_root, the root mount (the overlay) becomes
/// read-only, and so do the engine's /etc files, as dockerd makes them
/// (measured against dockerd 20.10); the other mounts on it (/dev,
/// /dev/shm, /proc, volumes, tmpfs) keep their own flags, as with runc.
pub fn readonly_root() -> Result<(), MountError> {
    let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    mount(None, Path::new("/"), None, ro, None)?;
    for (inside, _) in crate::mount::ENGINE_FILES {
        mount(None, &Path::new("/").join(inside), None, ro, None)?;
    }
    Ok(())
}

/// Docker's copy-up: a new volume that is still empty gets the image's
/// files at its mount point (owners, modes and links kept).
fn copy_up_into(from: &Path, volume: &Path) -> Result<(), MountError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| MountError::Io { what, path, source }
    };
    let Ok(meta) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    if !meta.is_dir()
        || std::fs::read_dir(volume)
            .map_err(io("read", volume))?
            .next()
            .is_some()
    {
        return Ok(());
    }
    copy_tree(from, volume).map_err(io("copy the image's files into", volume))?;
    copy_owner_and_mode(&meta, volume).map_err(io("set the owner of", volume))
}

fn copy_owner_and_mode(meta: &std::fs::Metadata, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// Copy the tree under `from` into the existing dir `to`, never following
/// a link (links are copied as links).
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            // Devices, fifos and sockets: Docker copies them; whale's
            // containers have no use for them in a volume.
            continue;
        }
        copy_owner_and_mode(&meta, &dst)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("real/etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("toroot")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("toetc")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("real/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(root, "/toroot").unwrap(), "");
        assert_eq!(resolve_in_root(root, "/toetc/x").unwrap(), "etc/x");
        assert_eq!(resolve_in_root(root, "/real/up/etc").unwrap(), "etc");
        assert_eq!(resolve_in_root(root, "/../../data").unwrap(), "data");
        assert_eq!(resolve_in_root(root, "/real/etc").unwrap(), "real/etc");
        assert!(resolve_in_root(root, "/loop").is_err());
    }

    #[test]
    fn copy_up_fills_only_an_empty_volume() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        std::fs::create_dir_all(img.join("sub")).unwrap();
        std::fs::write(img.join("sub/f"), "image").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", img.join("l")).unwrap();
        let vol = t.path().join("vol");
        std::fs::create_dir(&vol).unwrap();
        copy_up_into(&img, &vol).unwrap();
        assert_eq!(std::fs::read_to_string(vol.join("sub/f")).unwrap(), "image");
        assert_eq!(
            std::fs::read_link(vol.join("l")).unwrap(),
            Path::new("/etc/passwd")
        );
        std::fs::write(img.join("new"), "x").unwrap();
        copy_up_into(&img, &vol).unwrap();
        assert!(!vol.join("new").exists(), "a used volume is left alone");
    }
}
