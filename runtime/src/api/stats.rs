//! `/containers/{id}/stats`: Docker's stats JSON from the container's cgroup
//! (v1 or v2) and /proc/stat, sampled once a second as Docker's collector
//! does, so `docker stats` can compute CPU % from consecutive samples.

use super::http::{response, ApiResult, Body, Query};
use super::Daemon;
use crate::linux::cgroup::{Cgroup, Version};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Docker's collector interval.
const INTERVAL: Duration = Duration::from_secs(1);

/// One reading of a container's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub read: String,
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    pub system_cpu_ns: u64,
    pub online_cpus: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    pub memory_limit: u64,
    pub memory_stat: BTreeMap<String, u64>,
    pub pids: u64,
    pub pids_limit: u64,
    pub throttled_periods: u64,
    pub periods: u64,
    pub throttled_time_ns: u64,
}

fn read(dir: &std::path::Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// The first of the container's cgroup dirs that has `file` (v1 keeps each
/// controller in its own hierarchy; v2 has one dir).
fn find(cg: &Cgroup, file: &str) -> Option<String> {
    cg.dirs.iter().find_map(|(_, d)| read(d, file))
}

fn num(s: Option<String>) -> Option<u64> {
    s.and_then(|v| v.trim().parse().ok())
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

/// Total CPU time of the host in ns from /proc/stat's `cpu` line, as Docker
/// computes `system_cpu_usage`.
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

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn ticks_per_sec() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .map(|t| t as u64)
        .unwrap_or(100)
}

/// Read the counters now. A container without a cgroup (not running)
/// reads as zeros, as Docker reports a stopped container.
pub fn sample(cgroup_path: &str) -> Sample {
    let mut s = Sample {
        read: crate::container::now_rfc3339(),
        system_cpu_ns: std::fs::read_to_string("/proc/stat")
            .map(|t| parse_system_cpu(&t, ticks_per_sec()))
            .unwrap_or(0),
        online_cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1),
        ..Default::default()
    };
    let Ok(cg) = Cgroup::for_container(cgroup_path) else {
        return s;
    };
    if !cg.dirs.iter().any(|(_, d)| d.exists()) {
        return s;
    }
    let host_mem = host_memory();
    let hz = ticks_per_sec();
    match cg.version {
        Version::V1 => {
            s.cpu_total_ns = num(find(&cg, "cpuacct.usage")).unwrap_or(0);
            let st = parse_kv(&find(&cg, "cpuacct.stat").unwrap_or_default());
            let ns = |k: &str| st.get(k).copied().unwrap_or(0) * (1_000_000_000 / hz.max(1));
            s.cpu_user_ns = ns("user");
            s.cpu_system_ns = ns("system");
            s.memory_usage = num(find(&cg, "memory.usage_in_bytes")).unwrap_or(0);
            s.memory_max_usage = num(find(&cg, "memory.max_usage_in_bytes")).unwrap_or(0);
            s.memory_limit = num(find(&cg, "memory.limit_in_bytes")).unwrap_or(u64::MAX);
            s.memory_stat = parse_kv(&find(&cg, "memory.stat").unwrap_or_default());
            let th = parse_kv(&find(&cg, "cpu.stat").unwrap_or_default());
            s.periods = th.get("nr_periods").copied().unwrap_or(0);
            s.throttled_periods = th.get("nr_throttled").copied().unwrap_or(0);
            s.throttled_time_ns = th.get("throttled_time").copied().unwrap_or(0);
        }
        Version::V2 => {
            let st = parse_kv(&find(&cg, "cpu.stat").unwrap_or_default());
            let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
            s.cpu_total_ns = us("usage_usec");
            s.cpu_user_ns = us("user_usec");
            s.cpu_system_ns = us("system_usec");
            s.periods = st.get("nr_periods").copied().unwrap_or(0);
            s.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            s.throttled_time_ns = us("throttled_usec");
            s.memory_usage = num(find(&cg, "memory.current")).unwrap_or(0);
            s.memory_max_usage = num(find(&cg, "memory.peak")).unwrap_or(0);
            s.memory_limit = num(find(&cg, "memory.max")).unwrap_or(u64::MAX);
            s.memory_stat = parse_kv(&find(&cg, "memory.stat").unwrap_or_default());
        }
    }
    // Docker reports the host's memory when the cgroup has no lower limit.
    s.memory_limit = s.memory_limit.min(host_mem);
    s.pids = num(find(&cg, "pids.current")).unwrap_or(0);
    s.pids_limit = num(find(&cg, "pids.max")).unwrap_or(0);
    s
}

fn cpu_json(s: &Sample, with_usage: bool) -> Value {
    if !with_usage {
        return json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        });
    }
    json!({
        "cpu_usage": {
            "total_usage": s.cpu_total_ns,
            "usage_in_kernelmode": s.cpu_system_ns,
            "usage_in_usermode": s.cpu_user_ns,
        },
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": s.periods,
            "throttled_periods": s.throttled_periods,
            "throttled_time": s.throttled_time_ns,
        },
    })
}

/// Docker's StatsJSON for `now`, with `prev` as the pre-sample.
pub fn stats_json(id: &str, name: &str, now: &Sample, prev: Option<&Sample>) -> Value {
    let zero_time = crate::container::ZERO_TIME;
    json!({
        "read": now.read,
        "preread": prev.map(|p| p.read.as_str()).unwrap_or(zero_time),
        "pids_stats": {"current": now.pids, "limit": now.pids_limit},
        "blkio_stats": {
            "io_service_bytes_recursive": null, "io_serviced_recursive": null,
            "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null,
            "io_time_recursive": null, "sectors_recursive": null,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(now, true),
        "precpu_stats": prev.map(|p| cpu_json(p, true)).unwrap_or_else(|| cpu_json(now, false)),
        "memory_stats": {
            "usage": now.memory_usage,
            "max_usage": now.memory_max_usage,
            "stats": now.memory_stat,
            "limit": now.memory_limit,
        },
        "name": format!("/{name}"),
        "id": id,
    })
}

pub fn handle(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    let cg = super::containers::cgroup_path(c.id());
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let take = |cg: String| async move {
            tokio::task::spawn_blocking(move || sample(&cg))
                .await
                .unwrap_or_default()
        };
        let line = |v: Value| Bytes::from(v.to_string() + "\n");
        let mut prev: Option<Sample> = None;
        if !stream && one_shot {
            let now = take(cg.clone()).await;
            let _ = tx
                .send(line(stats_json(c.id(), &c.record.name, &now, None)))
                .await;
            return;
        }
        let mut tick = tokio::time::interval(INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = tx.closed() => return,
            }
            let now = take(cg.clone()).await;
            // Without streaming, Docker answers with the second sample so
            // that the CPU delta is there.
            if stream || prev.is_some() || !c.state().running() {
                let v = stats_json(c.id(), &c.record.name, &now, prev.as_ref());
                if tx.send(line(v)).await.is_err() || !stream {
                    return;
                }
            }
            if !c.state().running() && stream {
                // Docker keeps streaming zeros for a stopped container;
                // one is enough to say so, then the stream ends.
                return;
            }
            prev = Some(now);
        }
    });
    Ok(response(StatusCode::OK, "application/json", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        let kv = parse_kv("cache 4096\ntotal_inactive_file 100\nbad\nx y\n");
        assert_eq!(kv.get("cache"), Some(&4096));
        assert_eq!(kv.get("total_inactive_file"), Some(&100));
        assert_eq!(kv.len(), 2);
    }

    #[test]
    fn system_cpu_from_proc_stat() {
        let stat = "cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 5 0 2 40 2 0 0 0 0 0\n";
        assert_eq!(parse_system_cpu(stat, 100), 100 * 10_000_000);
        assert_eq!(parse_system_cpu("nothing", 100), 0);
    }

    #[test]
    fn json_shape_for_docker_stats() {
        let a = Sample {
            read: "t0".into(),
            cpu_total_ns: 1000,
            system_cpu_ns: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        let b = Sample {
            read: "t1".into(),
            cpu_total_ns: 2000,
            system_cpu_ns: 20_000,
            online_cpus: 2,
            memory_usage: 5 << 20,
            memory_limit: 32 << 20,
            pids: 3,
            ..Default::default()
        };
        let v = stats_json("abc", "web", &b, Some(&a));
        assert_eq!(v["name"], "/web");
        assert_eq!(v["preread"], "t0");
        assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 2000);
        assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 1000);
        assert_eq!(v["memory_stats"]["limit"], 32 << 20);
        assert_eq!(v["pids_stats"]["current"], 3);
        let first = stats_json("abc", "web", &b, None);
        assert_eq!(first["preread"], crate::container::ZERO_TIME);
        assert_eq!(first["precpu_stats"]["cpu_usage"]["total_usage"], 0);
    }
}
