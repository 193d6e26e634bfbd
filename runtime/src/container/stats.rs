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

/// Read the counters of the container whose cgroup is `cgroup_path` (and
/// whose init is `init_pid`, 0 when not running) now. A container without
/// a cgroup (not running) reads as zeros, as Docker reports a stopped
/// container.
pub fn sample(cgroup_path: &str, init_pid: i32) -> Sample {
    let mut s = Sample {
        read: super::now_rfc3339(),
        system_cpu_ns: procfs::system_cpu_ns(),
        online_cpus: super::host::ncpu() as u64,
        ..Default::default()
    };
    if cgroup::delegation::cgroups_unavailable().is_some() {
        s.cgroup = process_stats(init_pid);
        return s;
    }
    let Some(mut stats) = cgroup::container_stats(cgroup_path) else {
        return s;
    };
    // Docker reports the host's memory when the cgroup has no lower limit.
    stats.memory_limit = stats.memory_limit.min(procfs::mem_total());
    s.cgroup = stats;
    s
}

/// Rootless without a cgroup: the counters summed over the container's
/// processes as /proc shows them now (CPU of processes already gone is
/// not counted, nor is memory that is not resident); no limits, as none
/// can be set.
fn process_stats(init_pid: i32) -> Stats {
    let pids = if init_pid > 0 {
        procfs::container_processes(init_pid)
    } else {
        Vec::new()
    };
    let ns_per_tick = 1_000_000_000 / procfs::clock_ticks();
    let (mut user, mut system, mut memory) = (0u64, 0u64, 0u64);
    for &pid in &pids {
        if let Some(st) = procfs::pid_stat(pid) {
            user += st.utime * ns_per_tick;
            system += st.stime * ns_per_tick;
        }
        memory += procfs::pid_rss_bytes(pid).unwrap_or(0);
    }
    Stats {
        cpu_total_ns: user + system,
        cpu_user_ns: user,
        cpu_system_ns: system,
        memory_usage: memory,
        memory_max_usage: memory,
        memory_limit: procfs::mem_total(),
        pids: pids.len() as u64,
        ..Default::default()
    }
}
