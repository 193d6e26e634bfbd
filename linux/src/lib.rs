//! whale's kernel room, a crate of its own so that nothing in it can
//! import the engine above it: namespaces, mounts, pivot_root,
//! overlay, cgroups v1+v2, capabilities, pty, atomic files. Every unsafe block lives here,
//! each with a `// SAFETY:` line. Kernel calls sit behind small functions so
//! the logic above them is testable without root.

use std::io;
use std::os::unix::io::RawFd;

/// flock(2) on an open descriptor.
pub fn flock(fd: RawFd, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock only reads its integer arguments; an invalid fd yields EBADF.
    let r = unsafe { libc::flock(fd, op) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub mod caps;
pub mod cgroup;
pub mod copy_in;
pub mod exec;
pub mod fsutil;
pub mod mount;
pub mod process;
pub mod seccomp;
pub mod user;

/// The filesystem type magic of the filesystem holding `path` (statfs f_type).
pub fn statfs_type(path: &std::path::Path) -> io::Result<i64> {
    let c = process::cstring(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: zeroed statfs is a valid out-parameter; `c` is NUL-terminated
    // and outlives the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above; statfs writes only into `st`.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_type as i64)
}
