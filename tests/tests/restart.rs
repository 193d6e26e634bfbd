//! Restart policies: on-failure:N, always, unless-stopped, the back-off,
//! RestartCount, `Restarting` in ps, a stop by hand ending the policy, the
//! daemon bringing containers back, `--rm` refused; compared with dockerd
//! where one answers.

use std::time::{Duration, Instant};
use whale_e2e::dockerd::{Dockerd, DockerdCleanup};
use whale_e2e::{wait_for, World};

/// The actions of the events of container `name` (from `since`, for `secs`).
fn events(w: &World, name: &str) -> Vec<(i64, String)> {
    let r = w.api(
        "GET",
        &format!("/events?since=0&until={}", chrono_now_secs() + 1),
        None,
    );
    r.text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["Actor"]["Attributes"]["name"] == name)
        .map(|e| {
            (
                e["timeNano"].as_i64().unwrap_or(0),
                e["Action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn chrono_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn wait_exited(w: &World, name: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        (w.inspect_f("{{.State.Status}}", name) == "exited").then_some(())
    })
    .is_some()
}

#[test]
fn on_failure_2_restarts_twice_with_backoff_then_stays_exited() {
    let w = World::with_busybox();
    let t0 = Instant::now();
    w.run_d(&[
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    // Between runs the container shows Docker's Restarting status.
    let restarting = wait_for(Duration::from_secs(5), || {
        w.ps_line(false, "flaky")
            .filter(|l| l.contains("Restarting (3)"))
    });
    assert!(
        restarting.is_some(),
        "ps never showed `Restarting (3) ...` while the policy waited"
    );
    // Let it settle: 2 restarts, then exited for good.
    std::thread::sleep(Duration::from_secs(2));
    assert!(wait_exited(&w, "flaky", Duration::from_secs(10)));
    assert_eq!(w.inspect_f("{{.RestartCount}}", "flaky"), "2");
    assert_eq!(w.inspect_f("{{.State.ExitCode}}", "flaky"), "3");
    assert_eq!(w.inspect_f("{{.State.Restarting}}", "flaky"), "false");
    assert_eq!(
        w.inspect_f("{{json .HostConfig.RestartPolicy}}", "flaky"),
        r#"{"Name":"on-failure","MaximumRetryCount":2}"#
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        w.inspect_f("{{.RestartCount}}", "flaky"),
        "2",
        "no third restart"
    );
    let line = w.ps_line(true, "flaky").unwrap();
    assert!(line.contains("Exited (3)"), "{line}");
    // Docker's events: start, die, then start/die for each restart; no
    // `restart` event for a policy restart.
    let ev = events(&w, "flaky");
    let actions: Vec<&str> = ev.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "start", "die", "start", "die", "start", "die"],
        "{ev:?}"
    );
    // The back-off: 100 ms, then 200 ms (each plus the start itself).
    let gap = |i: usize| Duration::from_nanos((ev[i + 1].0 - ev[i].0) as u64);
    let (first, second) = (gap(2), gap(4));
    assert!(
        first >= Duration::from_millis(100) && first < Duration::from_millis(1000),
        "first delay {first:?}"
    );
    // Starting itself takes a varying time on a loaded machine: the floor
    // is the back-off, the ceiling generous.
    assert!(
        second >= Duration::from_millis(200) && second < Duration::from_millis(2000),
        "second delay {second:?} should be at least double the first back-off"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_manual_stop_ends_always_and_a_start_resets_the_count() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "loop",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 0",
    ]);
    let counted = wait_for(Duration::from_secs(15), || {
        let n: u64 = w.inspect_f("{{.RestartCount}}", "loop").parse().ok()?;
        (n >= 2).then_some(n)
    });
    assert!(
        counted.is_some(),
        "always restarts a container that exits 0"
    );
    w.whale_ok(&["stop", "-t", "1", "loop"]);
    assert!(wait_exited(&w, "loop", Duration::from_secs(10)));
    let n = w.inspect_f("{{.RestartCount}}", "loop");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.inspect_f("{{.State.Status}}", "loop"), "exited");
    assert_eq!(
        w.inspect_f("{{.RestartCount}}", "loop"),
        n,
        "stopped for good"
    );
    // A start by hand starts the policy afresh.
    w.whale_ok(&["start", "loop"]);
    let reset = wait_for(Duration::from_secs(5), || {
        let n: u64 = w.inspect_f("{{.RestartCount}}", "loop").parse().ok()?;
        (n <= 1).then_some(())
    });
    assert!(reset.is_some(), "start resets RestartCount");
    w.whale_ok(&["rm", "-f", "loop"]);
}

#[test]
fn the_daemon_brings_back_always_and_unless_stopped_not_stopped_by_hand() {
    let w = World::with_busybox();
    for (name, policy) in [
        ("a-stopped", "always"),
        ("u-stopped", "unless-stopped"),
        ("u-running", "unless-stopped"),
        ("no-policy", "no"),
    ] {
        w.run_d(&[
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]);
    }
    w.whale_ok(&["stop", "-t", "0", "a-stopped", "u-stopped"]);
    let pids = [w.pid_of("u-running"), w.pid_of("no-policy")];
    w.kill_daemon();
    // u-running and no-policy die while the daemon is away.
    for pid in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    w.start_daemon();
    let up = |n: &str| w.inspect_f("{{.State.Status}}", n);
    let back = wait_for(Duration::from_secs(10), || {
        (up("a-stopped") == "running" && up("u-running") == "running").then_some(())
    });
    assert!(
        back.is_some(),
        "always (even stopped by hand) and unless-stopped (not stopped by hand) come back: a-stopped {}, u-running {}",
        up("a-stopped"),
        up("u-running")
    );
    assert_eq!(
        up("u-stopped"),
        "exited",
        "unless-stopped stopped by hand stays"
    );
    assert_eq!(up("no-policy"), "exited");
}

#[test]
fn rm_with_a_restart_policy_is_refused_as_docker_refuses_it() {
    let w = World::with_busybox();
    let out = w.whale(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr
            .contains("conflicting options: cannot specify both --restart and --rm"),
        "{out}"
    );
    let body =
        r#"{"Image":"busybox","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#;
    let r = w.api("POST", "/containers/create", Some(body));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "can't create 'AutoRemove' container with restart policy"
    );
    let body = r#"{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"always","MaximumRetryCount":3}}}"#;
    let r = w.api("POST", "/containers/create", Some(body));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "maximum retry count cannot be used with restart policy 'always'"
    );
    let body = r#"{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"bogus"}}}"#;
    let r = w.api("POST", "/containers/create", Some(body));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "invalid restart policy 'bogus'");
}

/// The same run on dockerd and on whale: same RestartCount, state, exit
/// code and event sequence.
#[test]
fn on_failure_matches_dockerd() {
    let Some(d) = Dockerd::find("on_failure_matches_dockerd") else {
        return;
    };
    let name = "lifecycle-restart-cmp";
    let _cleanup = DockerdCleanup {
        dockerd: &d,
        names: vec![name.to_string()],
    };
    let _ = d.docker(&["rm", "-f", name]);
    let args = [
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        name,
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ];
    d.docker(&args).success();
    let w = World::with_busybox();
    w.whale_ok(&args);
    std::thread::sleep(Duration::from_secs(3));
    let tmpl = "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}}";
    let theirs = d.docker(&["inspect", "-f", tmpl, name]).success();
    assert_eq!(w.inspect_f(tmpl, name), theirs.out(), "whale vs dockerd");
    let ours = w.whale_ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Status}}",
        "--filter",
        &format!("name={name}"),
    ]);
    let theirs = d
        .docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Status}}",
            "--filter",
            &format!("name={name}"),
        ])
        .success();
    let head = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(head(ours.out()), head(theirs.out()), "ps STATUS");
}
