//! A container's resource counters for `/containers/{id}/stats`: its
//! cgroup's, with the host's CPU time beside them, so that a client can
//! compute CPU % from two consecutive samples as Docker's does.

use crate::linux::{cgroup, procfs};

pub use crate::linux::cgroup::Stats;

/// One reading: the cgroup's counters and the host's at the same moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// When it was taken (RFC 3339, ns).
    pub read: String,
    /// The host's CPU time, ns.
    pub system_cpu_ns: u64,
    pub online_cpus: u64,
    pub cgroup: Stats,
}

/// Read the counters of the container whose cgroup is `cgroup_path` now.
/// A container without a cgroup (not running) reads as zeros, as Docker
/// reports a stopped container.
pub fn sample(cgroup_path: &str) -> Sample {
    let mut s = Sample {
        read: super::now_rfc3339(),
        system_cpu_ns: procfs::system_cpu_ns(),
        online_cpus: super::host::ncpu() as u64,
        ..Default::default()
    };
    let Some(mut stats) = cgroup::container_stats(cgroup_path) else {
        return s;
    };
    // Docker reports the host's memory when the cgroup has no lower limit.
    stats.memory_limit = stats.memory_limit.min(procfs::mem_total());
    s.cgroup = stats;
    s
}
