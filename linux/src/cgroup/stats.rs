//! A container's counters as `docker stats` shows them, read from its
//! cgroup: v1 spreads them over one directory per controller (and counts
//! CPU in clock ticks or ns), v2 keeps them in one (and counts in µs).

use super::{Cgroup, Version};
use std::collections::BTreeMap;

/// One reading of a cgroup's counters, in Docker's units (ns, bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    /// `u64::MAX` when the cgroup sets no limit.
    pub memory_limit: u64,
    pub memory_stat: BTreeMap<String, u64>,
    pub pids: u64,
    pub pids_limit: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time_ns: u64,
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
pub fn parse_kv(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

impl Cgroup {
    /// The first of the cgroup's dirs that has `file` (v1 keeps each
    /// controller in its own hierarchy; v2 has one dir).
    fn find(&self, file: &str) -> Option<String> {
        self.dirs
            .iter()
            .find_map(|(_, d)| std::fs::read_to_string(d.join(file)).ok())
    }

    fn num(&self, file: &str) -> Option<u64> {
        self.find(file).and_then(|v| v.trim().parse().ok())
    }

    fn kv(&self, file: &str) -> BTreeMap<String, u64> {
        parse_kv(&self.find(file).unwrap_or_default())
    }

    /// Whether any of its directories exists (a container that is not
    /// running has none).
    pub fn exists(&self) -> bool {
        self.dirs.iter().any(|(_, d)| d.exists())
    }

    /// Read the counters now. A file a controller does not offer reads as
    /// zero (a missing memory limit as unlimited).
    pub fn stats(&self) -> Stats {
        self.stats_with_ticks(crate::procfs::clock_ticks())
    }

    /// [`Cgroup::stats`] with v1's `cpuacct.stat` in `ticks_per_sec` units.
    fn stats_with_ticks(&self, ticks_per_sec: u64) -> Stats {
        let mut s = Stats::default();
        match self.version {
            Version::V1 => {
                s.cpu_total_ns = self.num("cpuacct.usage").unwrap_or(0);
                let st = self.kv("cpuacct.stat");
                let ns = |k: &str| {
                    st.get(k).copied().unwrap_or(0) * (1_000_000_000 / ticks_per_sec.max(1))
                };
                s.cpu_user_ns = ns("user");
                s.cpu_system_ns = ns("system");
                s.memory_usage = self.num("memory.usage_in_bytes").unwrap_or(0);
                s.memory_max_usage = self.num("memory.max_usage_in_bytes").unwrap_or(0);
                s.memory_limit = self.num("memory.limit_in_bytes").unwrap_or(u64::MAX);
                s.memory_stat = self.kv("memory.stat");
                let th = self.kv("cpu.stat");
                s.periods = th.get("nr_periods").copied().unwrap_or(0);
                s.throttled_periods = th.get("nr_throttled").copied().unwrap_or(0);
                s.throttled_time_ns = th.get("throttled_time").copied().unwrap_or(0);
            }
            Version::V2 => {
                let st = self.kv("cpu.stat");
                let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
                s.cpu_total_ns = us("usage_usec");
                s.cpu_user_ns = us("user_usec");
                s.cpu_system_ns = us("system_usec");
                s.periods = st.get("nr_periods").copied().unwrap_or(0);
                s.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
                s.throttled_time_ns = us("throttled_usec");
                s.memory_usage = self.num("memory.current").unwrap_or(0);
                s.memory_max_usage = self.num("memory.peak").unwrap_or(0);
                // "max" does not parse: unlimited.
                s.memory_limit = self.num("memory.max").unwrap_or(u64::MAX);
                s.memory_stat = self.kv("memory.stat");
            }
        }
        s.pids = self.num("pids.current").unwrap_or(0);
        s.pids_limit = self.num("pids.max").unwrap_or(0);
        s
    }
}

/// The counters of a container's cgroup (`cgroup_path` as in its spec);
/// None when it has none (not running) or cgroups cannot be read.
pub fn container_stats(cgroup_path: &str) -> Option<Stats> {
    let cg = Cgroup::for_container(cgroup_path).ok()?;
    cg.exists().then(|| cg.stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (f, text) in files {
            fs::write(dir.join(f), text).unwrap();
        }
    }

    #[test]
    fn key_values() {
        let kv = parse_kv("cache 4096\ntotal_inactive_file 100\nbad\nx y\n");
        assert_eq!(kv.get("cache"), Some(&4096));
        assert_eq!(kv.get("total_inactive_file"), Some(&100));
        assert_eq!(kv.len(), 2);
    }

    #[test]
    fn v1_counters_from_each_controllers_dir() {
        let t = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "cpuacct", "pids"] {
            fs::create_dir_all(t.path().join(c)).unwrap();
        }
        let own = "4:memory:/\n3:cpu:/\n2:cpuacct:/\n1:pids:/\n";
        let cg = Cgroup::resolve(Version::V1, t.path(), own, "whale/c").unwrap();
        assert!(!cg.exists());
        let r = t.path();
        write(
            &r.join("cpuacct/whale/c"),
            &[
                ("cpuacct.usage", "123456789\n"),
                ("cpuacct.stat", "user 30\nsystem 20\n"),
            ],
        );
        write(
            &r.join("cpu/whale/c"),
            &[(
                "cpu.stat",
                "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n",
            )],
        );
        write(
            &r.join("memory/whale/c"),
            &[
                ("memory.usage_in_bytes", "4096\n"),
                ("memory.max_usage_in_bytes", "8192\n"),
                ("memory.limit_in_bytes", "33554432\n"),
                ("memory.stat", "cache 100\nrss 200\n"),
            ],
        );
        write(
            &r.join("pids/whale/c"),
            &[("pids.current", "3\n"), ("pids.max", "max\n")],
        );
        assert!(cg.exists());
        let s = cg.stats_with_ticks(100);
        assert_eq!(s.cpu_total_ns, 123_456_789);
        assert_eq!(s.cpu_user_ns, 300_000_000);
        assert_eq!(s.cpu_system_ns, 200_000_000);
        assert_eq!((s.periods, s.throttled_periods), (10, 4));
        assert_eq!(s.throttled_time_ns, 5000);
        assert_eq!((s.memory_usage, s.memory_max_usage), (4096, 8192));
        assert_eq!(s.memory_limit, 32 << 20);
        assert_eq!(s.memory_stat.get("rss"), Some(&200));
        assert_eq!((s.pids, s.pids_limit), (3, 0));
    }

    #[test]
    fn v2_counters_in_one_dir_and_unlimited_memory() {
        let t = tempfile::tempdir().unwrap();
        let cg = Cgroup::resolve(Version::V2, t.path(), "0::/daemon\n", "whale/c").unwrap();
        write(
            &t.path().join("daemon/whale/c"),
            &[
                (
                    "cpu.stat",
                    "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n\
                     nr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
                ),
                ("memory.current", "65536\n"),
                ("memory.peak", "131072\n"),
                ("memory.max", "max\n"),
                ("memory.stat", "anon 4096\nfile 0\n"),
                ("pids.current", "2\n"),
                ("pids.max", "20\n"),
            ],
        );
        let s = cg.stats_with_ticks(100);
        assert_eq!(s.cpu_total_ns, 1_500_000);
        assert_eq!((s.cpu_user_ns, s.cpu_system_ns), (1_000_000, 500_000));
        assert_eq!((s.periods, s.throttled_periods), (7, 2));
        assert_eq!(s.throttled_time_ns, 30_000);
        assert_eq!((s.memory_usage, s.memory_max_usage), (65536, 131072));
        assert_eq!(s.memory_limit, u64::MAX);
        assert_eq!(s.memory_stat.get("anon"), Some(&4096));
        assert_eq!((s.pids, s.pids_limit), (2, 20));
    }
}
