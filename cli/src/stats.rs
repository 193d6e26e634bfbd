//! `whale stats`: docker's live table of what containers use, read from
//! `/containers/{id}/stats` (the container's cgroup, sampled a second
//! apart so the CPU share has a delta), with docker's arithmetic.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{ListContainersOptions, StatsOptions};
use futures_util::StreamExt;

use super::gotemplate::Value;
use super::output;
use super::{client, CliError, CliResult};
use whale_args::Cli;
use whale_args::StatsArgs;

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn header() -> Value {
    output::map_of(&[
        ("Container", "CONTAINER"),
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ])
}

pub async fn stats(cli: &Cli, args: &StatsArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    let names: Vec<String> = if args.containers.is_empty() {
        docker
            .list_containers(Some(ListContainersOptions {
                all: args.all,
                ..Default::default()
            }))
            .await?
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    } else {
        args.containers.clone()
    };
    let format = args.format.clone().unwrap_or_default();
    loop {
        // One non-streamed answer per container: the daemon waits one
        // interval for it, so every round is a fresh one-second sample.
        let answers = futures_util::future::join_all(names.iter().map(|n| sample(docker, n))).await;
        let mut rows = Vec::new();
        for (name, answer) in names.iter().zip(answers) {
            rows.push(row(name, &answer?, !args.no_trunc));
        }
        let text = output::render_list(&format, STATS_TABLE, &header(), &rows, output::PS_WORDS)?;
        if args.no_stream {
            print!("{text}");
            return Ok(());
        }
        // docker redraws the table in place.
        print!("\x1b[2J\x1b[H{text}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}

async fn sample(docker: &bollard::Docker, name: &str) -> CliResult<ContainerStatsResponse> {
    let mut s = docker.stats(
        name,
        Some(StatsOptions {
            stream: false,
            one_shot: false,
        }),
    );
    match s.next().await {
        Some(r) => Ok(r?),
        None => Err(CliError::Other(format!("no stats for {name}"))),
    }
}

/// docker's stats row (cli/command/container/stats_helpers.go).
fn row(asked: &str, s: &ContainerStatsResponse, trunc: bool) -> Value {
    let id = s.id.clone().unwrap_or_default();
    let id = if trunc {
        id.chars().take(12).collect()
    } else {
        id
    };
    let name = s
        .name
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let cpu = cpu_percent(s);
    let mem = s.memory_stats.as_ref();
    let limit = mem.and_then(|m| m.limit).unwrap_or(0);
    let used = mem.map(memory_used).unwrap_or(0);
    let mem_perc = if limit > 0 {
        used as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let pids = s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0);
    let fields = vec![
        ("Container".to_string(), Value::str(asked)),
        ("ID".to_string(), Value::str(id)),
        ("Name".to_string(), Value::str(name)),
        ("CPUPerc".to_string(), Value::str(format!("{cpu:.2}%"))),
        (
            "MemUsage".to_string(),
            Value::str(format!(
                "{} / {}",
                whale_formats::humanize::human_binary_size(used),
                whale_formats::humanize::human_binary_size(limit)
            )),
        ),
        ("MemPerc".to_string(), Value::str(format!("{mem_perc:.2}%"))),
        // Containers have only their loopback: nothing crosses a network.
        ("NetIO".to_string(), Value::str("0B / 0B")),
        ("BlockIO".to_string(), Value::str("0B / 0B")),
        ("PIDs".to_string(), Value::str(pids.to_string())),
    ];
    Value::Struct("StatsEntry".into(), fields)
}

/// CPU use since the previous sample, as a share of one CPU times the
/// CPUs online (200% = two CPUs busy), as docker computes it.
fn cpu_percent(s: &ContainerStatsResponse) -> f64 {
    let total = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.system_cpu_usage).unwrap_or(0)
    };
    let (now, pre) = (s.cpu_stats.as_ref(), s.precpu_stats.as_ref());
    let cpu_delta = total(now).saturating_sub(total(pre)) as f64;
    let system_delta = system(now).saturating_sub(system(pre)) as f64;
    let cpus = now.and_then(|c| c.online_cpus).unwrap_or(1).max(1) as f64;
    if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// docker shows usage without the page cache the kernel can drop
/// (`total_inactive_file` on cgroup v1, `inactive_file` on v2).
fn memory_used(m: &bollard::models::ContainerMemoryStats) -> u64 {
    let usage = m.usage.unwrap_or(0);
    let stats = m.stats.as_ref();
    let inactive = stats
        .and_then(|s| {
            s.get("total_inactive_file")
                .or_else(|| s.get("inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    usage.saturating_sub(inactive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    fn cpu(total: u64, system: u64) -> ContainerCpuStats {
        ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(total),
                ..Default::default()
            }),
            system_cpu_usage: Some(system),
            online_cpus: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn dockers_arithmetic() {
        let s = ContainerStatsResponse {
            id: Some("0123456789abcdef0123".into()),
            name: Some("/busy".into()),
            // Half of the machine's CPU time on a 2-CPU host: 100% (one CPU).
            cpu_stats: Some(cpu(1_500_000_000, 4_000_000_000)),
            precpu_stats: Some(cpu(1_000_000_000, 3_000_000_000)),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(3 * 1024 * 1024),
                limit: Some(32 * 1024 * 1024),
                stats: Some([("total_inactive_file".to_string(), 1024 * 1024)].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Value::Struct(_, f) = row("busy", &s, true) else {
            panic!("a struct row")
        };
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("ID"), Value::str("0123456789ab"));
        assert_eq!(get("Name"), Value::str("busy"));
        assert_eq!(get("CPUPerc"), Value::str("100.00%"));
        assert_eq!(get("MemUsage"), Value::str("2MiB / 32MiB"));
        assert_eq!(get("MemPerc"), Value::str("6.25%"));
    }
}
