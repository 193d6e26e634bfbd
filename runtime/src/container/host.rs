//! Facts about the host the containers run on, for `/info` and `/version`.

use crate::linux::{cgroup, procfs};

/// The running kernel's release (`uname -r`).
pub fn kernel_version() -> String {
    procfs::os_release()
}

/// The host's memory, in bytes.
pub fn mem_total() -> u64 {
    procfs::mem_total()
}

/// The host's name.
pub fn hostname() -> String {
    procfs::hostname()
}

/// The cgroup version containers are confined with: 1 or 2.
pub fn cgroup_version() -> u8 {
    match cgroup::host_version() {
        cgroup::Version::V1 => 1,
        cgroup::Version::V2 => 2,
    }
}

/// The distribution's `PRETTY_NAME` (/etc/os-release), or "Linux".
pub fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".to_string())
}

/// CPUs this process may run on.
pub fn ncpu() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
