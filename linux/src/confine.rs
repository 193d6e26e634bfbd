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
    /// `--device`: host nodes recreated in the container's /dev.
    pub devices: Vec<Device>,
}

/// One `--device`: a host node, where it appears, what the cgroup allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Inside the container, under /dev (e.g. "/dev/fuse").
    pub path: String,
    pub block: bool,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Devices-cgroup permissions: some of r, w, m.
    pub permissions: String,
}

impl Device {
    /// The node at `host` (a character or block device), to appear at
    /// `inside` with `permissions`.
    pub fn from_host(host: &Path, inside: &str, permissions: &str) -> io::Result<Device> {
        let meta = std::fs::metadata(host)?;
        let ft = meta.file_type();
        if !ft.is_char_device() && !ft.is_block_device() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a character or block device",
            ));
        }
        let rdev = meta.rdev();
        Ok(Device {
            path: inside.to_string(),
            block: ft.is_block_device(),
            major: nix::sys::stat::major(rdev),
            minor: nix::sys::stat::minor(rdev),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            permissions: permissions.to_string(),
        })
    }

    /// Its rule for the v1 devices cgroup, e.g. "c 10:229 rwm".
    pub fn cgroup_rule(&self) -> String {
        let kind = if self.block { 'b' } else { 'c' };
        format!("{kind} {}:{} {}", self.major, self.minor, self.permissions)
    }
}

/// Create the `--device` nodes under `dev` (the container's fresh /dev
/// tmpfs, so no image symlink is on the way); the daemon has checked that
/// each path is under /dev without `..`.
pub fn make_devices(dev: &Path, devices: &[Device]) -> io::Result<()> {
    for d in devices {
        let rel = d.path.trim_start_matches("/dev/");
        let target = dev.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(&target);
        if crate::userns::in_rootless_namespace() {
            let host = host_node(Path::new("/dev"), d.block, d.major, d.minor).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no host node {}:{} under /dev to bind at {} (rootless whale cannot make device nodes)",
                        d.major, d.minor, d.path
                    ),
                )
            })?;
            bind_node(&host, &target)?;
            continue;
        }
        let kind = if d.block {
            nix::sys::stat::SFlag::S_IFBLK
        } else {
            nix::sys::stat::SFlag::S_IFCHR
        };
        nix::sys::stat::mknod(
            &target,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(d.mode),
            nix::sys::stat::makedev(d.major, d.minor),
        )?;
        std::os::unix::fs::lchown(&target, Some(d.uid), Some(d.gid))?;
    }
    Ok(())
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
        if crate::userns::in_rootless_namespace() {
            // Best effort: a node the user may not even look at stays out.
            let _ = bind_node(&entry.path(), &target);
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

/// A user namespace may not make device nodes: rootless, the host's own
/// node is bound in (as runc does), and the host's permissions on it
/// still decide who opens it.
fn bind_node(host: &Path, target: &Path) -> io::Result<()> {
    std::fs::File::create(target)?;
    crate::mount::mount(Some(host), target, None, libc::MS_BIND, None).map_err(io::Error::other)
}

/// The node under `dev` (one level of subdirectories deep) with this type
/// and device number.
fn host_node(dev: &Path, block: bool, major: u64, minor: u64) -> Option<std::path::PathBuf> {
    let wanted = nix::sys::stat::makedev(major, minor);
    let matches = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            let ft = m.file_type();
            (if block {
                ft.is_block_device()
            } else {
                ft.is_char_device()
            }) && m.rdev() == wanted
        })
    };
    let mut dirs = vec![dev.to_path_buf()];
    let mut depth = 0;
    while depth < 2 {
        let mut next = Vec::new();
        for d in dirs {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if matches(&p) {
                    return Some(p);
                }
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    next.push(p);
                }
            }
        }
        dirs = next;
        depth += 1;
    }
    None
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
