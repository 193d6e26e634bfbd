//! Opening files inside a directory tree that someone else controls (a
//! container's root): the path is resolved by the kernel as if that
//! directory were `/` (`openat2` with `RESOLVE_IN_ROOT`), no magic link
//! (`/proc/PID/fd/N`, `/proc/PID/root`) is followed, and every later step
//! works on file descriptors, never on a host path a racing process could
//! swap for a symlink.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

fn adopt(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call of ours and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Open `path` below `root` as if `root` were `/`: `..` stops at it,
/// absolute symlinks start from it, magic links fail (`ELOOP`). `flags`
/// gets `O_CLOEXEC` added.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    nix::fcntl::openat2(root.as_raw_fd(), path, how)
        .map(adopt)
        .map_err(io::Error::from)
}

/// Open `path` below `dir` without any symlink or `..` leading out of it
/// (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`). `flags` gets `O_CLOEXEC` added.
pub fn open_beneath(dir: BorrowedFd<'_>, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    nix::fcntl::openat2(dir.as_raw_fd(), path, how)
        .map(adopt)
        .map_err(io::Error::from)
}

/// Open the one entry `name` of the directory `dir` (no `/` in it), never
/// following a symlink there. `flags` gets `O_NOFOLLOW | O_CLOEXEC` added.
pub fn open_entry(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlag) -> io::Result<OwnedFd> {
    if name.as_bytes().contains(&b'/') || name.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(adopt)
    .map_err(io::Error::from)
}

/// The target of the symlink `name` in `dir`.
pub fn read_link_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<std::ffi::OsString> {
    nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name).map_err(io::Error::from)
}

/// A detached copy of the one mount at `path` (`open_tree` with
/// `OPEN_TREE_CLONE`, not recursive): its files without what is mounted
/// over them. The mount must be in the caller's mount namespace.
pub fn clone_mount(path: &Path) -> io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree(2) reads the NUL-terminated path `c`, alive for the
    // call, and takes plain integer flags; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(adopt(fd as RawFd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_and_dotdot_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/secret"), "inside").unwrap();
        std::fs::write(t.path().join("secret"), "outside").unwrap();
        symlink("/", root.join("up")).unwrap();
        symlink("../../../..", root.join("etc/dots")).unwrap();
        let dir = std::fs::File::open(&root).unwrap();
        let read = |p: &str| {
            let fd = open_in_root(dir.as_fd(), Path::new(p), OFlag::O_RDONLY)?;
            std::io::read_to_string(std::fs::File::from(fd))
        };
        assert_eq!(read("/etc/secret").unwrap(), "inside");
        assert_eq!(read("/up/etc/secret").unwrap(), "inside");
        assert_eq!(read("etc/dots/etc/secret").unwrap(), "inside");
        assert_eq!(
            read("/../../secret").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // Magic links are refused (with the host's /proc as the root's).
        let host = std::fs::File::open("/").unwrap();
        let e = open_in_root(
            host.as_fd(),
            Path::new("/proc/self/root/etc/passwd"),
            OFlag::O_RDONLY,
        )
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
    }

    #[test]
    fn entries_never_follow_symlinks() {
        let t = tempfile::tempdir().unwrap();
        symlink("/etc", t.path().join("l")).unwrap();
        let dir = std::fs::File::open(t.path()).unwrap();
        let e = open_entry(dir.as_fd(), OsStr::new("l"), OFlag::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        assert!(open_entry(dir.as_fd(), OsStr::new("a/b"), OFlag::O_RDONLY).is_err());
        assert_eq!(
            read_link_at(dir.as_fd(), OsStr::new("l")).unwrap(),
            OsStr::new("/etc")
        );
    }
}
