//! whale's kernel room, a crate of its own so that nothing in it can
//! import the engine above it: namespaces, mounts, pivot_root,
//! overlay, cgroups v1+v2, capabilities, pty, /proc readers, atomic files. Every unsafe block lives here,
//! each with a `// SAFETY:` line. Kernel calls sit behind small functions so
//! the logic above them is testable without root.

use std::io;

pub mod caps;
pub mod cgroup;
pub mod confine;
pub mod container_root;
pub mod copy_in;
pub mod copy_out;
pub mod exec;
pub mod fs;
pub mod fsutil;
pub mod memory;
pub mod mount;
pub mod openat2;
pub mod process;
pub mod procfs;
pub mod seccomp;
pub mod user;
pub mod user_mounts;
pub mod userns;

/// The filesystem type magic of the filesystem holding `path` (statfs f_type).
pub fn statfs_type(path: &std::path::Path) -> io::Result<i64> {
    let st = nix::sys::statfs::statfs(path)?;
    Ok(st.filesystem_type().0 as i64)
}
