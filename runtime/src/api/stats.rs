//! `/containers/{id}/stats`: Docker's stats JSON from the container's
//! samples (see `container::stats`), taken once a second as Docker's
//! collector does, so `docker stats` can compute CPU % from consecutive
//! samples.

use super::http::{response, ApiResult, Body, Query};
use super::Daemon;
use crate::container::stats::{sample, Sample};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Docker's collector interval.
const INTERVAL: Duration = Duration::from_secs(1);

fn cpu_json(s: &Sample, with_usage: bool) -> Value {
    if !with_usage {
        return json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        });
    }
    json!({
        "cpu_usage": {
            "total_usage": s.cgroup.cpu_total_ns,
            "usage_in_kernelmode": s.cgroup.cpu_system_ns,
            "usage_in_usermode": s.cgroup.cpu_user_ns,
        },
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": s.cgroup.periods,
            "throttled_periods": s.cgroup.throttled_periods,
            "throttled_time": s.cgroup.throttled_time_ns,
        },
    })
}

/// Docker's StatsJSON for `now`, with `prev` as the pre-sample.
pub fn stats_json(id: &str, name: &str, now: &Sample, prev: Option<&Sample>) -> Value {
    let zero_time = crate::container::ZERO_TIME;
    json!({
        "read": now.read,
        "preread": prev.map(|p| p.read.as_str()).unwrap_or(zero_time),
        "pids_stats": {"current": now.cgroup.pids, "limit": now.cgroup.pids_limit},
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
            "usage": now.cgroup.memory_usage,
            "max_usage": now.cgroup.memory_max_usage,
            "stats": now.cgroup.memory_stat,
            "limit": now.cgroup.memory_limit,
        },
        "name": format!("/{name}"),
        "id": id,
    })
}

pub fn handle(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    let cg = crate::container::cgroup_path(c.id());
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let c2 = c.clone();
        let take = move |cg: String| {
            let state = c2.state();
            let pid = if state.running() { state.pid } else { 0 };
            async move {
                tokio::task::spawn_blocking(move || sample(&cg, pid))
                    .await
                    .unwrap_or_default()
            }
        };
        let line = |v: Value| Bytes::from(v.to_string() + "\n");
        let mut prev: Option<Sample> = None;
        if !stream && one_shot {
            let now = take(cg.clone()).await;
            let _ = tx
                .send(line(stats_json(c.id(), &c.name(), &now, None)))
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
                let v = stats_json(c.id(), &c.name(), &now, prev.as_ref());
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
    fn json_shape_for_docker_stats() {
        use crate::container::stats::Stats;
        let a = Sample {
            read: "t0".into(),
            system_cpu_ns: 10_000,
            online_cpus: 2,
            cgroup: Stats {
                cpu_total_ns: 1000,
                ..Default::default()
            },
        };
        let b = Sample {
            read: "t1".into(),
            system_cpu_ns: 20_000,
            online_cpus: 2,
            cgroup: Stats {
                cpu_total_ns: 2000,
                memory_usage: 5 << 20,
                memory_limit: 32 << 20,
                pids: 3,
                ..Default::default()
            },
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
