//! The host's `/proc` as the engine reads it: host facts for `/info` and
//! `/stats`, the per-process fields `top` shows, and the paths through
//! which a process's namespaces and the daemon's own descriptors are
//! reached. Every reader has a parser over text beside it, so the parsing
//! is tested without a particular host.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

const PROC: &str = "/proc";

fn read(rel: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(PROC).join(rel)).ok()
}

/// Kernel clock ticks per second (sysconf `_SC_CLK_TCK`), the unit of the
/// times in `/proc/<pid>/stat`, `/proc/stat` and v1's `cpuacct.stat`.
/// 100 when the kernel does not say, as on every Linux it runs on.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .map(|t| t as u64)
        .unwrap_or(100)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        l.strip_prefix("MemTotal:")
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })
}

/// The host's memory in bytes; 0 when `/proc/meminfo` cannot be read.
pub fn mem_total() -> u64 {
    read("meminfo")
        .and_then(|s| parse_mem_total(&s))
        .unwrap_or(0)
}

/// Total CPU time of the host in ns from /proc/stat's `cpu` line (its first
/// eight counters), as Docker computes `system_cpu_usage`.
pub fn parse_system_cpu(proc_stat: &str, ticks_per_sec: u64) -> u64 {
    let Some(line) = proc_stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks.saturating_mul(1_000_000_000 / ticks_per_sec.max(1))
}

/// The host's CPU time in ns (see [`parse_system_cpu`]); 0 when unreadable.
pub fn system_cpu_ns() -> u64 {
    read("stat")
        .map(|t| parse_system_cpu(&t, clock_ticks()))
        .unwrap_or(0)
}

/// `btime` of /proc/stat: the boot time, in seconds since the epoch.
pub fn parse_boot_time(proc_stat: &str) -> Option<i64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
}

/// When the host booted, in seconds since the epoch; 0 when unreadable.
pub fn boot_time() -> i64 {
    read("stat").and_then(|s| parse_boot_time(&s)).unwrap_or(0)
}

/// Seconds since boot (`/proc/uptime`); 0 when unreadable.
pub fn uptime_secs() -> f64 {
    read("uptime")
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// The running kernel's release (`uname -r`); empty when unreadable.
pub fn os_release() -> String {
    read("sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The host's hostname (in the daemon's UTS namespace); empty when unreadable.
pub fn hostname() -> String {
    read("sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The fields of `/proc/<pid>/stat` that `ps -ef` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidStat {
    /// The command name (field 2), without its parentheses.
    pub comm: String,
    pub ppid: u64,
    /// The controlling terminal's device number (field 7).
    pub tty_nr: u64,
    /// User and system CPU time, in clock ticks (fields 14 and 15).
    pub utime: u64,
    pub stime: u64,
    /// Start time after boot, in clock ticks (field 22).
    pub starttime: u64,
}

/// Parse `/proc/<pid>/stat`. The command name may hold spaces and
/// parentheses, so the fields after it are found from the last `)`.
pub fn parse_pid_stat(stat: &str) -> Option<PidStat> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    let get = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some(PidStat {
        comm,
        ppid: get(4),
        tty_nr: get(7),
        utime: get(14),
        stime: get(15),
        starttime: get(22),
    })
}

/// `/proc/<pid>/stat`; None when the process is gone (or never was).
pub fn pid_stat(pid: i32) -> Option<PidStat> {
    read(&format!("{pid}/stat")).and_then(|s| parse_pid_stat(&s))
}

/// `root` and every process descended from it, from (pid, ppid) pairs:
/// a container's processes where no cgroup lists them (rootless without
/// delegation). Its init is PID 1 of a PID namespace, so a process that
/// leaves the tree (a double fork) is re-parented to the init and stays in it.
pub fn descendants(root: i32, parents: &[(i32, i32)]) -> Vec<i32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(pid, ppid)| *ppid == parent && !found.contains(pid))
                .map(|(pid, _)| *pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.sort_unstable();
    found
}

/// The processes of the container whose init is `init`, without a cgroup
/// to ask: every process in the init's PID namespace (exec'd ones too),
/// or, when it shares ours (`--pid host`), the init's [`descendants`].
pub fn container_processes(init: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ns_of = |pid: i32| std::fs::metadata(ns_path(pid, "pid")).ok().map(|m| m.ino());
    let Some(theirs) = ns_of(init).filter(|_| init > 0) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(PROC) else {
        return vec![init];
    };
    let pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect();
    if Some(theirs) != ns_of(std::process::id() as i32) {
        let mut same: Vec<i32> = pids
            .into_iter()
            .filter(|p| ns_of(*p) == Some(theirs))
            .collect();
        same.sort_unstable();
        return same;
    }
    let parents: Vec<(i32, i32)> = pids
        .into_iter()
        .filter_map(|pid| Some((pid, pid_stat(pid)?.ppid as i32)))
        .collect();
    descendants(init, &parents)
}

/// Resident memory of process `pid` in bytes (`/proc/PID/statm`'s second
/// field, in pages); None when it is gone.
pub fn pid_rss_bytes(pid: i32) -> Option<u64> {
    let statm = read(&format!("{pid}/statm"))?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    Some(pages * page)
}

/// The real uid of the `Uid:` line of `/proc/<pid>/status`.
pub fn parse_status_uid(status: &str) -> Option<u32> {
    status.lines().find_map(|l| {
        l.strip_prefix("Uid:")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u32>().ok())
    })
}

/// The real uid of process `pid`; None when it is gone.
pub fn pid_uid(pid: i32) -> Option<u32> {
    read(&format!("{pid}/status")).and_then(|s| parse_status_uid(&s))
}

/// `/proc/<pid>/cmdline`: the arguments, each NUL-terminated; empty for a
/// kernel thread, a zombie, or a process that is gone.
pub fn pid_cmdline(pid: i32) -> Vec<u8> {
    std::fs::read(Path::new(PROC).join(format!("{pid}/cmdline"))).unwrap_or_default()
}

/// Whether process `pid` exists (in the caller's PID namespace).
pub fn pid_exists(pid: i32) -> bool {
    Path::new(PROC).join(pid.to_string()).exists()
}

/// `/proc/<pid>/ns/<name>`: opening it pins namespace `name` ("mnt", "net",
/// ...) of process `pid`, for setns(2).
pub fn ns_path(pid: i32, name: &str) -> PathBuf {
    Path::new(PROC).join(format!("{pid}/ns/{name}"))
}

/// `/proc/self/exe`: the running binary's image, reachable even after a
/// rebuild replaced (and so unlinked) the file it was started from.
pub fn self_exe() -> PathBuf {
    Path::new(PROC).join("self/exe")
}

/// `/proc/self/fd/<fd>`: a path naming what `fd` has open (for a directory,
/// a short prefix under which its entries are reached).
pub fn self_fd_path(fd: RawFd) -> PathBuf {
    Path::new(PROC).join(format!("self/fd/{fd}"))
}

/// The lowest port a user may bind (`net.ipv4.ip_unprivileged_port_start`,
/// 1024 when it cannot be read): below it, rootless whale cannot publish.
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_follow_the_parent_links_only() {
        let parents = [(10, 1), (11, 10), (12, 11), (13, 10), (20, 1), (21, 20)];
        assert_eq!(descendants(10, &parents), [10, 11, 12, 13]);
        assert_eq!(descendants(21, &parents), [21]);
    }

    #[test]
    fn mem_total_in_bytes() {
        let m = "MemTotal:        16314156 kB\nMemFree:          1234 kB\n";
        assert_eq!(parse_mem_total(m), Some(16_314_156 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn system_cpu_and_boot_time_from_proc_stat() {
        let stat = "cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 5 0 2 40 2 0 0 0 0 0\nbtime 1700000000\n";
        assert_eq!(parse_system_cpu(stat, 100), 100 * 10_000_000);
        assert_eq!(parse_system_cpu("nothing", 100), 0);
        assert_eq!(parse_boot_time(stat), Some(1_700_000_000));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    #[test]
    fn pid_stat_with_spaces_and_parens_in_comm() {
        let s = "42 (my (odd) cmd) S 1 42 42 34816 42 4194560 100 0 0 0 \
                 7 3 0 0 20 0 1 0 12345 1000 10 0";
        let p = parse_pid_stat(s).unwrap();
        assert_eq!(p.comm, "my (odd) cmd");
        assert_eq!(p.ppid, 1);
        assert_eq!(p.tty_nr, 34816);
        assert_eq!((p.utime, p.stime), (7, 3));
        assert_eq!(p.starttime, 12345);
        assert_eq!(parse_pid_stat("garbage"), None);
    }

    #[test]
    fn uid_from_status() {
        let s = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t0\n";
        assert_eq!(parse_status_uid(s), Some(1000));
        assert_eq!(parse_status_uid("Name: x\n"), None);
    }

    #[test]
    fn own_process_reads() {
        let me = std::process::id() as i32;
        assert!(pid_exists(me));
        assert!(pid_stat(me).is_some_and(|s| !s.comm.is_empty()));
        assert!(pid_uid(me).is_some());
        assert!(!pid_cmdline(me).is_empty());
        assert!(ns_path(me, "mnt").exists());
        assert!(clock_ticks() > 0);
        assert_eq!(self_fd_path(3), PathBuf::from("/proc/self/fd/3"));
    }
}
