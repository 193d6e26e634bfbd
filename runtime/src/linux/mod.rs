//! The ONLY room that talks to the kernel: namespaces, mounts, pivot_root,
//! overlay, cgroups v1+v2, capabilities, pty. Every unsafe block lives here,
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
