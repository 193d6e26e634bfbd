//! What a container may see beyond (or short of) Docker's default rootfs:
//! `--privileged` (the host's devices, no masked or read-only paths, a
//! writable /sys), `--shm-size` and `--ipc` (what /dev/shm is), and
//! `--sysctl` (namespaced kernel settings written before /proc/sys is made
//! read-only). Used by [`super::mount`] while it builds the rootfs.

use serde::{Deserialize, Serialize};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Docker's default /dev/shm: 64 MiB.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// What the container's /dev/shm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shm {
    /// A private tmpfs of this many bytes (`--shm-size`, 64 MiB by default).
    Size(u64),
    /// The host's /dev/shm (`--ipc host`).
    Host,
    /// Nothing mounted (`--ipc none`).
    None,
}

impl Default for Shm {
    fn default() -> Self {
        Shm::Size(DEFAULT_SHM_SIZE)
    }
}

/// The rootfs choices of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Confinement {
    /// `--privileged`: host devices, nothing masked, /sys and /proc writable.
    pub privileged: bool,
    pub shm: Shm,
    /// `--sysctl` (key, value), validated as namespaced by the daemon.
    pub sysctls: Vec<(String, String)>,
}

/// Host directories under /dev that runc's HostDevices leaves out: they are
/// mounts of their own, or container managers' bookkeeping.
const SKIP_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// `--privileged`: recreate every host device node of `host_dev` under
/// `dev` (same type, numbers, mode and owner), as runc does for Docker.
/// Nodes the container's /dev already has (null, tty, ...) are kept.
pub fn copy_host_devices(host_dev: &Path, dev: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(host_dev)? {
        let entry = entry?;
        let name = entry.file_name();
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue; // gone meanwhile
        };
        let ft = meta.file_type();
        let target = dev.join(&name);
        if ft.is_dir() {
            if SKIP_DIRS.iter().any(|s| name == *s) {
                continue;
            }
            std::fs::create_dir_all(&target)?;
            copy_host_devices(&entry.path(), &target)?;
            // Keep only directories that hold a device.
            let _ = std::fs::remove_dir(&target);
            continue;
        }
        let kind = if ft.is_char_device() {
            nix::sys::stat::SFlag::S_IFCHR
        } else if ft.is_block_device() {
            nix::sys::stat::SFlag::S_IFBLK
        } else {
            continue;
        };
        if name == "console" || name == "ptmx" || target.symlink_metadata().is_ok() {
            continue;
        }
        nix::sys::stat::mknod(
            &target,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777),
            meta.rdev(),
        )?;
        std::os::unix::fs::lchown(&target, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

/// Write each sysctl under `proc_sys` (the container's /proc/sys): dots
/// are path separators, as sysctl(8) reads them.
pub fn write_sysctls(proc_sys: &Path, sysctls: &[(String, String)]) -> io::Result<()> {
    for (key, value) in sysctls {
        let path = proc_sys.join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot set sysctl {key}={value}: {e}"))
        })?;
    }
    Ok(())
}
