//! Latency of the shim alone, as the daemon sees it: `client::spawn` ->
//! Ready -> `start` -> Started -> Exit, for `true` in a busybox rootfs.
//! Not a timed test (the machine may be busy); run it by hand:
//!
//! ```text
//! cargo test --release -p whale --test shim_bench -- --ignored --nocapture
//! ```

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use whale::shim::client;
use whale::shim::protocol::Request;
use whale::shim::spec::{NetworkMode, Resources, ShimSpec};

const RUNS: usize = 30;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
#[ignore = "benchmark: run by hand with --ignored --nocapture"]
async fn shim_start_to_exit_latency() {
    std::env::set_var(client::SHIM_BIN_ENV, env!("CARGO_BIN_EXE_whale"));
    let tmp = tempfile::Builder::new()
        .prefix("whale-bench")
        .tempdir()
        .unwrap();
    let lower = tmp.path().join("lower");
    fs::create_dir_all(lower.join("bin")).unwrap();
    fs::create_dir_all(lower.join("etc")).unwrap();
    fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
    symlink("busybox", lower.join("bin/true")).unwrap();

    let (mut ready, mut started, mut exited) = (Vec::new(), Vec::new(), Vec::new());
    // The kernel's floor, interleaved so both see the same machine load.
    let mut floor = Vec::new();
    for run in 0..RUNS {
        let id = format!("{:064x}", (std::process::id() as u128) << 64 | run as u128);
        let dir = tmp.path().join(&id[..16]);
        for d in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let spec = ShimSpec {
            id: id.clone(),
            hostname: id[..12].to_string(),
            lower_dirs: vec![lower.clone()],
            upper_dir: dir.join("upper"),
            work_dir: dir.join("work"),
            merged_dir: dir.join("merged"),
            args: vec!["true".into()],
            env: vec!["PATH=/bin".into()],
            cwd: String::new(),
            user: String::new(),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            console_size: None,
            network: NetworkMode::Loopback,
            ports: Vec::new(),
            resources: Resources::default(),
            cgroup_path: format!("whale-bench/{}", &id[..16]),
            log_path: dir.join("container.log"),
            no_log: false,
            socket_path: dir.join("shim.sock"),
            state_path: dir.join("state.json"),
            init: None,
            mounts: Vec::new(),
            readonly_rootfs: false,
            seccomp: Default::default(),
            privileges: Default::default(),
        };
        fs::write(dir.join("spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
        // Let the previous container's teardown finish first.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let t = Instant::now();
        let ok = std::process::Command::new("unshare")
            .args(["-fmpiun", "--mount-proc", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            floor.push(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(30)).await;

        let t0 = Instant::now();
        let shim = client::spawn(&dir).await.unwrap();
        assert!(shim.ready.error.is_none(), "{:?}", shim.ready);
        let t1 = t0.elapsed();
        let mut wait = client::connect(&spec.socket_path, &Request::Wait)
            .await
            .unwrap();
        shim.start().await.unwrap();
        let t2 = t0.elapsed();
        let mut line = String::new();
        wait.read_to_string(&mut line).await.unwrap();
        let t3 = t0.elapsed();
        assert!(line.contains("\"exit_code\":0"), "{line}");
        ready.push(t1);
        started.push(t2);
        exited.push(t3);
    }
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace().next().unwrap_or("?")
    );
    if !floor.is_empty() {
        println!(
            "unshare -fmpiun --mount-proc true: median {:>6.2} ms  min {:>6.2} ms",
            median(floor.clone()).as_secs_f64() * 1e3,
            floor.iter().min().unwrap().as_secs_f64() * 1e3
        );
    }
    for (name, v) in [("ready", ready), ("started", started), ("exit", exited)] {
        let min = *v.iter().min().unwrap();
        println!(
            "shim {name:>8}: median {:>6.2} ms  min {:>6.2} ms  ({RUNS} runs)",
            median(v).as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3
        );
    }
    let _ = whale::linux::cgroup::remove_container_cgroup("whale-bench/x");
    if let Ok(cg) = whale::linux::cgroup::Cgroup::for_container("whale-bench/x") {
        for (_, d) in &cg.dirs {
            if let Some(p) = d.parent() {
                let _ = fs::remove_dir(p);
            }
        }
    }
}
