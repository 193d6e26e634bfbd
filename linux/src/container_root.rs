//! Entering a container's root file system from a helper process (`whale
//! copy-in`, `whale copy-out`): the running container's root (refused when
//! the pid is no longer a container's init), or its overlay mounted in a
//! private mount namespace that dies with the helper. After `enter`, `/` is
//! the container's `/`: nothing a process in the container does to its
//! files can point the helper at the host's.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Target {
    /// The container runs: its init's root (or, for an export, its root
    /// mount alone).
    Running { pid: i32 },
    /// It does not: mount its overlay privately first, and bind `binds`
    /// (host file, path inside) over it as the running container has them.
    Stopped {
        lower_dirs: Vec<PathBuf>,
        upper_dir: PathBuf,
        work_dir: PathBuf,
        merged_dir: PathBuf,
        #[serde(default)]
        binds: Vec<(PathBuf, String)>,
        /// Its binds and volumes, mounted as when it runs (not for an
        /// export, which is the root mount alone).
        #[serde(default)]
        mounts: Vec<super::user_mounts::UserMount>,
    },
}

/// Which view of the root a helper needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The files as the running container sees them, its mounts included;
    /// a stopped container's engine files (`binds`) bound as it would have
    /// them (cp out).
    Files,
    /// The root mount alone, nothing mounted over it (export).
    RootMount,
    /// Somewhere to write: never the engine's files (cp in).
    Writable,
}

/// Change root to the container's file system, in the view asked for.
pub fn enter(target: &Target, view: View) -> io::Result<()> {
    match target {
        Target::Running { pid } => {
            // A container always has a mount namespace of its own: the same
            // as ours means the pid is no longer its init.
            let ns = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino()));
            if ns(&format!("/proc/{pid}/ns/mnt"))? == ns("/proc/self/ns/mnt")? {
                return Err(io::Error::other(format!(
                    "process {pid} is not in a container"
                )));
            }
            if view == View::RootMount {
                let mnt = File::open(format!("/proc/{pid}/ns/mnt"))?;
                nix::sched::setns(mnt.as_fd(), nix::sched::CloneFlags::CLONE_NEWNS)?;
                let tree = super::openat2::clone_mount(Path::new("/"))?;
                nix::unistd::fchdir(tree.as_raw_fd())?;
                nix::unistd::chroot(".")?;
            } else {
                nix::unistd::chroot(format!("/proc/{pid}/root").as_str())?;
            }
        }
        Target::Stopped {
            lower_dirs,
            upper_dir,
            work_dir,
            merged_dir,
            binds,
            mounts,
        } => {
            super::process::unshare(libc::CLONE_NEWNS)?;
            super::mount::make_mounts_private().map_err(io::Error::other)?;
            let rootfs = super::mount::Rootfs {
                lower_dirs,
                upper_dir,
                work_dir,
                merged_dir,
                binds: &[],
                mounts: &[],
                cgroups: super::mount::CgroupView::None,
                confinement: Default::default(),
            };
            super::mount::mount_overlay(&rootfs).map_err(io::Error::other)?;
            if view == View::Files {
                let merged = File::open(merged_dir)?;
                for (host, inside) in binds {
                    bind_file(merged.as_fd(), host, inside)?;
                }
            }
            if view != View::RootMount {
                // docker cp reads and writes a stopped container's volumes
                // too, not the directories under them.
                super::user_mounts::mount_all(merged_dir, mounts).map_err(io::Error::other)?;
            }
            nix::unistd::chroot(merged_dir.as_path())?;
        }
    }
    std::env::set_current_dir("/")
}

/// Bind the host file `host`, if the engine wrote it, over the file
/// `inside` of the mounted root `merged`, when the root has a plain file there (the init layer makes
/// one): a symlink in the way is left alone, never followed.
fn bind_file(merged: BorrowedFd<'_>, host: &Path, inside: &str) -> io::Result<()> {
    if !host.is_file() {
        return Ok(()); // not written yet: the container never started
    }
    let Ok(fd) =
        super::openat2::open_beneath(merged, Path::new(inside), OFlag::O_PATH | OFlag::O_NOFOLLOW)
    else {
        return Ok(());
    };
    let meta = File::from(fd.try_clone()?).metadata()?;
    if !meta.is_file() {
        return Ok(());
    }
    let target = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    super::mount::mount(Some(host), &target, None, libc::MS_BIND, None).map_err(io::Error::other)
}
