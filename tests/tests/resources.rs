//! cgroup limits: --memory, --cpus, --pids-limit, and OOMKilled.

use std::path::PathBuf;
use std::time::Duration;
use whale_e2e::{cgroup_dirs_of, World};

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn oom_exits_137_and_inspect_says_oomkilled() {
    let w = World::with_busybox();
    let out = w.whale_timeout(
        &[
            "run",
            "--name",
            "oom",
            "--memory",
            "32m",
            "busybox",
            "sh",
            "-c",
            "x=a; while true; do x=$x$x; done",
        ],
        Duration::from_secs(120),
    );
    let out = out.expect_code(137);
    let state = &w.inspect("oom")["State"];
    assert_eq!(state["OOMKilled"], true, "State: {state}\n{out}");
    assert_eq!(state["ExitCode"], 137, "State: {state}");
    assert_eq!(w.inspect_f("{{.State.OOMKilled}}", "oom"), "true");
    let calm = w.whale_ok(&[
        "run", "--name", "calm", "--memory", "32m", "busybox", "true",
    ]);
    assert_eq!(
        w.inspect_f("{{.State.OOMKilled}}", "calm"),
        "false",
        "{calm}"
    );
}

#[test]
fn limits_land_in_the_containers_cgroups() {
    let w = World::with_busybox();
    let id = w.run_d(&[
        "--name",
        "limited",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "busybox",
        "sleep",
        "1000",
    ]);
    let pid = w.pid_of("limited");
    let dirs = cgroup_dirs_of(pid);
    let find = |ctrl: &str| {
        dirs.iter()
            .find(|(c, _)| c.split(',').any(|x| x == ctrl))
            .map(|(_, p)| p.clone())
    };
    if let Some(pids) = find("pids") {
        // cgroup v1
        assert!(
            pids.to_string_lossy().contains(&id),
            "pids cgroup {} is named after the id",
            pids.display()
        );
        assert_eq!(read(pids.join("pids.max")), "20");
        let mem = find("memory").expect("memory cgroup");
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
        let cpu = find("cpu").expect("cpu cgroup");
        let quota: f64 = read(cpu.join("cpu.cfs_quota_us")).parse().expect("quota");
        let period: f64 = read(cpu.join("cpu.cfs_period_us")).parse().expect("period");
        assert!(
            (quota / period - 0.5).abs() < 1e-6,
            "quota {quota} / period {period}"
        );
    } else {
        let unified = find("unified").expect("a v1 pids or v2 unified cgroup");
        assert_eq!(read(unified.join("pids.max")), "20");
        assert_eq!(read(unified.join("memory.max")), "67108864");
        let cpu_max = read(unified.join("cpu.max"));
        let mut it = cpu_max.split_whitespace();
        let quota: f64 = it
            .next()
            .and_then(|q| q.parse().ok())
            .expect("cpu.max quota");
        let period: f64 = it
            .next()
            .and_then(|q| q.parse().ok())
            .expect("cpu.max period");
        assert!((quota / period - 0.5).abs() < 1e-6, "cpu.max {cpu_max}");
    }
    let host = &w.inspect("limited")["HostConfig"];
    assert_eq!(host["Memory"], 67108864, "{host}");
    assert_eq!(host["NanoCpus"], 500000000, "{host}");
    assert_eq!(host["PidsLimit"], 20, "{host}");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let w = World::with_busybox();
    let out = w.whale(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20 ]; do sleep 2 & i=$((i+1)); done; echo spawned",
    ]);
    assert!(
        out.stderr.contains("fork"),
        "sh should fail to fork past 5 pids:\n{out}"
    );
}

#[test]
fn the_container_is_in_its_own_cgroup() {
    let w = World::with_busybox();
    let out = w.whale_ok(&["run", "--rm", "busybox", "cat", "/proc/self/cgroup"]);
    // A cgroup namespace: the container sees itself at the root of every hierarchy.
    for line in out.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        assert_eq!(
            path, "/",
            "cgroup namespace should hide the host path: {line}\n{out}"
        );
    }
}

#[test]
fn stats_shows_the_limits_and_usage_of_each_container() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "st-busy",
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & wait",
    ]);
    let out = w.whale_ok(&["stats", "--no-stream"]);
    let lines = out.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>().join(" "),
        "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS"
    );
    let row = lines
        .iter()
        .find(|l| l.contains("st-busy"))
        .expect("a row for st-busy");
    assert!(row.contains(" / 32MiB "), "the memory limit: {row}");
    // sh and its two sleeps.
    assert!(row.trim_end().ends_with(" 3"), "PIDS: {row}");
    let f = w.whale_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}}",
        "st-busy",
    ]);
    let (name, cpu) = f.out().split_once(' ').unwrap();
    assert_eq!(name, "st-busy");
    let pct: f64 = cpu.trim_end_matches('%').parse().expect("a percentage");
    assert!((0.0..=200.0).contains(&pct), "{cpu}");
    w.whale_ok(&["rm", "-f", "st-busy"]);
}
