//! Health checks: the run flags and the image's HEALTHCHECK, run as execs
//! on schedule; State.Health, ps's `(health: ...)`, `ps --filter health=`,
//! `health_status` events; compared with dockerd where one answers.

use std::process::Command;
use std::time::Duration;
use whale_e2e::dockerd::{Dockerd, DockerdCleanup};
use whale_e2e::{wait_for, World};

fn status(w: &World, name: &str) -> String {
    w.inspect_f("{{.State.Health.Status}}", name)
}

fn wait_status(w: &World, name: &str, want: &str) -> bool {
    wait_for(Duration::from_secs(10), || {
        (status(w, name) == want).then_some(())
    })
    .is_some()
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

const FILE_CHECK: &[&str] = &[
    "--health-cmd",
    "test -f /tmp/ok && echo fine",
    "--health-interval",
    "200ms",
    "--health-retries",
    "2",
];

#[test]
fn flags_drive_starting_unhealthy_healthy() {
    let w = World::with_busybox();
    let mut args = vec!["--name", "hc"];
    args.extend_from_slice(FILE_CHECK);
    args.extend_from_slice(&["busybox", "sleep", "1000"]);
    w.run_d(&args);
    let line = w.ps_line(false, "hc").unwrap();
    assert!(line.contains("(health: starting)"), "{line}");
    assert!(
        wait_status(&w, "hc", "unhealthy"),
        "two failures make it unhealthy"
    );
    let line = w.ps_line(false, "hc").unwrap();
    assert!(line.contains("(unhealthy)"), "{line}");
    let q = w.whale_ok(&["ps", "-q", "--filter", "health=unhealthy"]);
    assert_eq!(q.lines().len(), 1, "{q}");
    w.whale_ok(&["exec", "hc", "touch", "/tmp/ok"]);
    assert!(wait_status(&w, "hc", "healthy"));
    assert!(w.ps_line(false, "hc").unwrap().contains("(healthy)"));
    assert!(w
        .whale_ok(&["ps", "-q", "--filter", "health=unhealthy"])
        .out()
        .is_empty());
    // State.Health in Docker's shape.
    std::thread::sleep(Duration::from_millis(1200));
    let h = &w.inspect("hc")["State"]["Health"];
    assert_eq!(h["Status"], "healthy");
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().expect("Log");
    assert_eq!(log.len(), 5, "the last 5 results: {log:?}");
    let last = &log[4];
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    for k in ["Start", "End"] {
        assert!(last[k].as_str().is_some_and(|s| s.ends_with('Z')), "{last}");
    }
    let a = actions(&w, "hc");
    let health: Vec<&String> = a
        .iter()
        .filter(|a| a.starts_with("health_status"))
        .collect();
    assert_eq!(
        health,
        ["health_status: unhealthy", "health_status: healthy"],
        "{a:?}"
    );
    assert!(a
        .iter()
        .any(|a| a == "exec_create: /bin/sh -c test -f /tmp/ok && echo fine"));
    // Stops with the container.
    w.whale_ok(&["stop", "-t", "0", "hc"]);
    let n = w.inspect("hc")["State"]["Health"]["Log"].clone();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        w.inspect("hc")["State"]["Health"]["Log"],
        n,
        "no probe after the stop"
    );
}

#[test]
fn a_probe_past_its_timeout_fails_with_dockers_words() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(wait_status(&w, "slow", "unhealthy"));
    let log = w.inspect("slow")["State"]["Health"]["Log"].clone();
    assert_eq!(log[0]["ExitCode"], -1);
    assert_eq!(log[0]["Output"], "Health check exceeded timeout (300ms)");
}

/// busybox with a HEALTHCHECK in its config, made by editing a saved
/// image (as an image built from a Dockerfile HEALTHCHECK carries it).
fn image_with_healthcheck(w: &World) {
    let dir = w.base().join("hcimg");
    std::fs::create_dir_all(&dir).unwrap();
    let tar = dir.join("busybox.tar");
    w.whale_ok(&["save", "-o", tar.to_str().unwrap(), "busybox"]);
    let x = Command::new("tar")
        .arg("xf")
        .arg(&tar)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(x.success());
    std::fs::remove_file(&tar).unwrap();
    let mpath = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    let cfg_name = m[0]["Config"].as_str().unwrap().to_string();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(&cfg_name)).unwrap()).unwrap();
    cfg["config"]["Healthcheck"] = serde_json::json!({
        "Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 200_000_000i64, "Retries": 2
    });
    std::fs::remove_file(dir.join(&cfg_name)).unwrap();
    let _ = std::fs::remove_file(dir.join("repositories"));
    std::fs::write(dir.join("hc.json"), cfg.to_string()).unwrap();
    m[0]["Config"] = "hc.json".into();
    m[0]["RepoTags"] = serde_json::json!(["hcimg:latest"]);
    std::fs::write(&mpath, m.to_string()).unwrap();
    let out_tar = w.base().join("hcimg.tar");
    let c = Command::new("tar")
        .arg("cf")
        .arg(&out_tar)
        .arg(".")
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(c.success());
    w.whale_ok(&["load", "-i", out_tar.to_str().unwrap()]);
}

#[test]
fn the_images_healthcheck_runs_unless_disabled() {
    let w = World::with_busybox();
    image_with_healthcheck(&w);
    w.run_d(&["--name", "img", "hcimg", "sleep", "1000"]);
    w.run_d(&[
        "--name",
        "off",
        "--no-healthcheck",
        "hcimg",
        "sleep",
        "1000",
    ]);
    assert!(wait_status(&w, "img", "unhealthy"));
    assert_eq!(
        w.inspect_f("{{json .Config.Healthcheck.Test}}", "off"),
        r#"["NONE"]"#
    );
    // Docker leaves State.Health out without a check.
    assert!(
        w.inspect("off")["State"].get("Health").is_none(),
        "no health with --no-healthcheck"
    );
    let line = w.ps_line(false, "off").unwrap();
    assert!(!line.contains("health"), "{line}");
    let q = w.whale_ok(&["ps", "-q", "--filter", "health=none"]);
    assert_eq!(q.lines().len(), 1, "{q}");
}

/// The same check on dockerd and whale: same statuses over time, same
/// Health keys, same events.
#[test]
fn health_matches_dockerd() {
    let Some(d) = Dockerd::find("health_matches_dockerd") else {
        return;
    };
    let name = "lifecycle-health-cmp";
    let _cleanup = DockerdCleanup {
        dockerd: &d,
        names: vec![name.to_string()],
    };
    let _ = d.docker(&["rm", "-f", name]);
    let mut args = vec!["run", "-d", "--network", "none", "--name", name];
    args.extend_from_slice(FILE_CHECK);
    args.extend_from_slice(&["busybox", "sleep", "100"]);
    let w = World::with_busybox();
    d.docker(&args).success();
    w.whale_ok(&args);
    let tmpl = "{{.State.Health.Status}} {{.State.Health.FailingStreak}}";
    let both = |want: &str| {
        wait_for(Duration::from_secs(10), || {
            let t = d.docker(&["inspect", "-f", tmpl, name]).out().to_string();
            let o = w.inspect_f(tmpl, name);
            (t.starts_with(want) && o.starts_with(want)).then_some((o, t))
        })
    };
    assert!(both("unhealthy").is_some(), "both go unhealthy");
    for engine in [true, false] {
        let args = ["exec", name, "touch", "/tmp/ok"];
        if engine {
            w.whale_ok(&args);
        } else {
            d.docker(&args).success();
        }
    }
    let (o, t) = both("healthy").expect("both go healthy");
    assert_eq!(o, t);
    let theirs: serde_json::Value = serde_json::from_str(
        d.docker(&["inspect", "-f", "{{json .State.Health}}", name])
            .out(),
    )
    .unwrap();
    let ours = w.inspect(name)["State"]["Health"].clone();
    let keys = |v: &serde_json::Value| {
        v["Log"][0]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(keys(&ours), keys(&theirs));
    let ps = |out: String| out.split('(').nth(1).unwrap_or("").to_string();
    let filter = format!("name={name}");
    let fmt = ["ps", "--filter", &filter, "--format", "{{.Status}}"];
    assert_eq!(
        ps(w.whale_ok(&fmt).out().to_string()),
        ps(d.docker(&fmt).out().to_string())
    );
}
