//! pause / unpause (the cgroup freezer), rename and update, with Docker's
//! errors, status codes and events; compared with dockerd where one answers.

use std::time::Duration;
use whale_e2e::dockerd::{Dockerd, DockerdCleanup};
use whale_e2e::{wait_for, World};

/// Lines the container has logged so far.
fn logged(w: &World, name: &str) -> usize {
    w.whale_ok(&["logs", name]).stdout.lines().count()
}

fn actions(w: &World, name: &str) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    w.api("GET", &format!("/events?since=0&until={}", now + 1), None)
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["Actor"]["Attributes"]["name"] == name)
        .map(|e| e["Action"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn paused_processes_stop_running_until_unpaused() {
    let w = World::with_busybox();
    let id = w.run_d(&[
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.05; done",
    ]);
    assert!(
        wait_for(Duration::from_secs(5), || (logged(&w, "ticker") > 3)
            .then_some(()))
        .is_some()
    );
    w.whale_ok(&["pause", "ticker"]);
    // The probe: a frozen loop logs nothing more.
    std::thread::sleep(Duration::from_millis(200));
    let frozen_at = logged(&w, "ticker");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        logged(&w, "ticker"),
        frozen_at,
        "the container ran while paused"
    );
    let line = w.ps_line(false, "ticker").unwrap();
    assert!(line.contains("(Paused)"), "{line}");
    assert_eq!(
        w.inspect_f(
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
            "ticker"
        ),
        "paused true true"
    );
    assert_eq!(
        w.whale_ok(&["ps", "--filter", "status=paused", "-q"]).out(),
        &id[..12]
    );

    // Docker's refusals, its codes and words.
    let r = w.api("POST", "/containers/ticker/pause", None);
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["message"],
        format!("Container {id} is already paused")
    );
    let out = w.whale(&["exec", "ticker", "true"]);
    assert_ne!(out.code(), Some(0));
    assert!(
        out.stderr
            .contains("Container ticker is paused, unpause the container before exec"),
        "{out}"
    );

    // A daemon that restarts finds it paused still (the cgroup says so).
    w.kill_daemon();
    w.start_daemon();
    assert_eq!(w.inspect_f("{{.State.Status}}", "ticker"), "paused");
    w.whale_ok(&["unpause", "ticker"]);
    assert!(
        wait_for(Duration::from_secs(5), || (logged(&w, "ticker")
            > frozen_at + 2)
            .then_some(()))
        .is_some(),
        "the loop runs again after unpause"
    );
    let r = w.api("POST", "/containers/ticker/unpause", None);
    assert_eq!(r.status, 500, "Docker's status for this");
    assert_eq!(r.json()["message"], format!("Container {id} is not paused"));

    // Stop works on a paused container (Docker's too): SIGKILL after the
    // timeout, thawed so it can die.
    w.whale_ok(&["pause", "ticker"]);
    w.whale_ok(&["stop", "-t", "1", "ticker"]);
    assert_eq!(
        w.inspect_f("{{.State.Status}} {{.State.Paused}}", "ticker"),
        "exited false"
    );
    let r = w.api("POST", "/containers/ticker/pause", None);
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["message"],
        format!("Container {id} is not running")
    );
    let a = actions(&w, "ticker");
    let pauses: Vec<&String> = a.iter().filter(|a| a.contains("pause")).collect();
    // The restarted daemon's events (the first pause was the old one's).
    assert_eq!(pauses, ["unpause", "pause"], "{a:?}");
}

#[test]
fn rename_follows_dockers_rules() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "first", "busybox", "sleep", "100"]);
    let other = w.run_d(&["--name", "taken", "busybox", "sleep", "100"]);
    w.whale_ok(&["rename", "first", "second"]);
    assert_eq!(w.inspect_f("{{.Name}}", &id), "/second");
    assert!(w.ps_line(false, "second").is_some());
    assert!(w.ps_line(true, "first").is_none());
    // The old name is free again.
    w.whale_ok(&["create", "--name", "first", "busybox", "true"]);

    let r = w.api("POST", "/containers/second/rename?name=taken", None);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        format!("Error when allocating new name: Conflict. The container name \"/taken\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name.")
    );
    let r = w.api("POST", "/containers/second/rename?name=second", None);
    assert_eq!(r.status, 400);
    let r = w.api("POST", "/containers/second/rename?name=-bad", None);
    assert_eq!(r.status, 400);
    let r = w.api("POST", "/containers/second/rename?name=", None);
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (400, "Neither old nor new names may be empty".into())
    );
    let r = w.api("POST", "/containers/nosuch/rename?name=x", None);
    assert_eq!(r.status, 404);
    assert!(actions(&w, "second").contains(&"rename".to_string()));

    // The new name survives a daemon restart (it is in the record).
    w.kill_daemon();
    w.start_daemon();
    assert_eq!(w.inspect_f("{{.Name}}", &id), "/second");
}

#[test]
fn update_changes_the_live_cgroup_and_refuses_what_it_cannot() {
    let w = World::with_busybox();
    w.run_d(&["--name", "upd", "-m", "32m", "busybox", "sleep", "100"]);
    let inside = |f: &str| w.whale_ok(&["exec", "upd", "cat", f]).out().to_string();
    assert_eq!(
        inside("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        (32 << 20).to_string()
    );
    let out = w.whale_ok(&[
        "update",
        "-m",
        "48m",
        "--pids-limit",
        "33",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:4",
        "upd",
    ]);
    assert_eq!(out.out(), "upd");
    // The probe: the container's own view of its cgroup.
    assert_eq!(
        inside("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        (48 << 20).to_string()
    );
    assert_eq!(inside("/sys/fs/cgroup/pids/pids.max"), "33");
    assert_eq!(inside("/sys/fs/cgroup/cpu/cpu.shares"), "512");
    assert_eq!(
        w.inspect_f("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{json .HostConfig.RestartPolicy}}", "upd"),
        format!("{} 33 512 {{\"Name\":\"on-failure\",\"MaximumRetryCount\":4}}", 48 << 20)
    );
    let r = w.api(
        "POST",
        "/containers/upd/update",
        Some(r#"{"Memory":67108864}"#),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"Warnings": []}));
    let r = w.api(
        "POST",
        "/containers/upd/update",
        Some(r#"{"BlkioWeight":300}"#),
    );
    assert_eq!(r.status, 400);
    let msg = r.json()["message"].as_str().unwrap_or("").to_string();
    assert!(
        msg.contains("BlkioWeight") && msg.contains("--memory"),
        "{msg}"
    );
    let r = w.api("POST", "/containers/upd/update", Some(r#"{"Memory":1000}"#));
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (400, "Minimum memory limit allowed is 6MB".into())
    );
    // The stock docker CLI sends every field (zeros for unset ones).
    if let Some(out) = w.docker(&["update", "--cpus", "0.5", "upd"]) {
        assert_eq!(out.code(), Some(0), "{out}");
        assert_eq!(inside("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), "50000");
    }
}

/// Status codes and messages of pause/unpause/rename against dockerd's
/// (ids aside).
#[test]
fn pause_and_rename_errors_match_dockerd() {
    let Some(d) = Dockerd::find("pause_and_rename_errors_match_dockerd") else {
        return;
    };
    let (run, made) = ("lifecycle-pause-run", "lifecycle-pause-made");
    let _cleanup = DockerdCleanup {
        dockerd: &d,
        names: vec![run.into(), made.into()],
    };
    let w = World::with_busybox();
    let mut ids = vec![];
    for n in [run, made] {
        let _ = d.docker(&["rm", "-f", n]);
    }
    let theirs_run = d
        .docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            run,
            "busybox",
            "sleep",
            "100",
        ])
        .success()
        .out()
        .to_string();
    let theirs_made = d
        .docker(&[
            "create",
            "--network",
            "none",
            "--name",
            made,
            "busybox",
            "true",
        ])
        .success()
        .out()
        .to_string();
    let ours_run = w
        .whale_ok(&["run", "-d", "--name", run, "busybox", "sleep", "100"])
        .out()
        .to_string();
    let ours_made = w
        .whale_ok(&["create", "--name", made, "busybox", "true"])
        .out()
        .to_string();
    ids.extend([theirs_run, theirs_made, ours_run, ours_made]);
    let calls = [
        format!("/containers/{run}/pause"),
        format!("/containers/{run}/pause"),
        format!("/containers/{made}/pause"),
        format!("/containers/{run}/rename?name={made}"),
        format!("/containers/{run}/rename?name={run}"),
        format!("/containers/{run}/rename?name="),
        format!("/containers/{run}/unpause"),
        format!("/containers/{run}/unpause"),
    ];
    let scrub = |s: String| ids.iter().fold(s, |s, id| s.replace(id.as_str(), "<id>"));
    for call in &calls {
        let t = d.api("POST", call, None);
        let o = w.api("POST", call, None);
        assert_eq!(
            o.status,
            t.status,
            "{call}: whale {} vs dockerd {}",
            o.text(),
            t.text()
        );
        assert_eq!(scrub(o.text()).trim(), scrub(t.text()).trim(), "{call}");
    }
}
