//! Real containers through the daemon (root, busybox image imported through
//! the API). Each test owns its daemon, root dir and socket.

#[path = "daemon_common/mod.rs"]
mod common;

use bollard::query_parameters::{AttachContainerOptionsBuilder, WaitContainerOptionsBuilder};
use common::Daemon;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

const CHILD: &str = "daemon_child";

#[test]
fn daemon_child() {
    common::child_main();
}

/// Import busybox through `POST /images/create?fromSrc=-`.
fn with_busybox() -> Daemon {
    let d = Daemon::start(CHILD);
    let tar = d.dir.path().join("busybox.tar");
    let mut f = std::fs::File::create(&tar).unwrap();
    whale_cli::bootstrap::busybox_rootfs_tar(&mut f).unwrap();
    drop(f);
    let r = common::curl(
        &d.sock,
        "POST",
        "/images/create?fromSrc=-&repo=busybox&tag=latest&changes=CMD%20%5B%22sh%22%5D&message=test",
        None,
        &["--data-binary", &format!("@{}", tar.display())],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(r#""status":"sha256:"#), "{r:?}");
    d
}

fn client(d: &Daemon) -> bollard::Docker {
    bollard::Docker::connect_with_unix(d.sock.to_str().unwrap(), 60, bollard::API_DEFAULT_VERSION)
        .unwrap()
}

/// What `docker run --rm [-i] busybox ARGS` does: create, attach, wait for
/// removal, start, collect output. Returns (exit code, output).
async fn run_rm(docker: &bollard::Docker, args: &[&str], stdin: Option<&[u8]>) -> (i64, String) {
    let body = bollard::models::ContainerCreateBody {
        image: Some("busybox".into()),
        cmd: Some(args.iter().map(|s| s.to_string()).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(stdin.is_some()),
        open_stdin: Some(stdin.is_some()),
        stdin_once: Some(stdin.is_some()),
        host_config: Some(bollard::models::HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let t0 = Instant::now();
    let id = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .unwrap()
        .id;
    let attach = docker
        .attach_container(
            &id,
            Some(
                AttachContainerOptionsBuilder::default()
                    .stream(true)
                    .stdout(true)
                    .stderr(true)
                    .stdin(stdin.is_some())
                    .build(),
            ),
        )
        .await
        .unwrap();
    let mut wait = docker.wait_container(
        &id,
        Some(
            WaitContainerOptionsBuilder::default()
                .condition("removed")
                .build(),
        ),
    );
    let waiter = tokio::spawn(async move {
        match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            other => panic!("wait: {other:?}"),
        }
    });
    let t1 = t0.elapsed();
    docker
        .start_container(
            &id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap();
    let t2 = t0.elapsed();
    let mut input = attach.input;
    if let Some(data) = stdin {
        use tokio::io::AsyncWriteExt;
        input.write_all(data).await.unwrap();
        input.shutdown().await.unwrap();
    }
    let mut out = String::new();
    let mut output = attach.output;
    while let Some(chunk) = output.next().await {
        out.push_str(&chunk.unwrap().to_string());
    }
    let t3 = t0.elapsed();
    let code = waiter.await.unwrap();
    if std::env::var_os("WHALE_BENCH_PHASES").is_some() {
        eprintln!(
            "create+attach {t1:?} start {t2:?} eof {t3:?} removed {:?}",
            t0.elapsed()
        );
    }
    (code, out)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn run_rm_prints_output_and_exit_code() {
    let d = with_busybox();
    let docker = client(&d);
    rt().block_on(async {
        let (code, out) = run_rm(
            &docker,
            &["sh", "-c", "echo $$; hostname; ls /sys/class/net; exit 3"],
            None,
        )
        .await;
        assert_eq!(code, 3);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "1");
        assert_eq!(lines[1].len(), 12);
        assert!(lines[1].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(lines[2], "lo");
        let (code, out) = run_rm(&docker, &["sh"], Some(b"echo hi; exit 4\n")).await;
        assert_eq!((code, out.as_str()), (4, "hi\n"));
    });
    // --rm removed them all.
    assert_eq!(
        d.get("/containers/json?all=1").json(),
        serde_json::json!([])
    );
}

#[test]
#[ignore = "benchmark: cargo test --test daemon_containers -- --ignored --nocapture bench"]
fn bench_run_rm_true() {
    let d = with_busybox();
    let docker = client(&d);
    rt().block_on(async {
        for _ in 0..3 {
            run_rm(&docker, &["true"], None).await;
        }
        let mut times = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let (code, _) = run_rm(&docker, &["true"], None).await;
            times.push(t.elapsed());
            assert_eq!(code, 0);
        }
        times.sort();
        println!(
            "run --rm busybox true over the API: median {:?}, min {:?}, max {:?}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    });
    let _ = Duration::from_secs(0);
}

fn create(d: &Daemon, name: &str, body: serde_json::Value) -> String {
    let path = if name.is_empty() {
        "/containers/create".to_string()
    } else {
        format!("/containers/create?name={name}")
    };
    let r = d.post(&path, Some(&body.to_string()));
    assert_eq!(r.status, 201, "{r:?}");
    r.json()["Id"].as_str().unwrap().to_string()
}

fn inspect(d: &Daemon, id: &str) -> serde_json::Value {
    let r = d.get(&format!("/containers/{id}/json"));
    assert_eq!(r.status, 200, "{r:?}");
    r.json()
}

/// Split a multiplexed stream into (stream, payload) frames.
fn demux(mut b: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        out.push((b[0], String::from_utf8_lossy(&b[8..8 + n]).into_owned()));
        b = &b[8 + n..];
    }
    out
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn container_life_cycle() {
    let d = with_busybox();
    let id = create(
        &d,
        "web",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; sleep 100"], "Labels": {"app": "web"}}),
    );
    assert_eq!(id.len(), 64);
    let r = d.post(
        "/containers/create?name=web",
        Some(r#"{"Image":"busybox"}"#),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        r.message(),
        format!("Conflict. The container name \"/web\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")
    );

    assert_eq!(d.get("/containers/json").json(), serde_json::json!([]));
    let ps = d.get("/containers/json?all=1").json();
    assert_eq!(ps[0]["Id"], id.as_str());
    assert_eq!(ps[0]["Names"], serde_json::json!(["/web"]));
    assert_eq!(ps[0]["Image"], "busybox");
    // Docker quotes an argument with spaces (daemon/list.go).
    assert_eq!(
        ps[0]["Command"],
        "sh -c 'echo out; echo err >&2; sleep 100'"
    );
    assert_eq!(ps[0]["State"], "created");
    assert_eq!(ps[0]["Status"], "Created");
    assert_eq!(ps[0]["HostConfig"]["NetworkMode"], "default");
    assert!(
        ps[0]["NetworkSettings"]["Networks"]["none"].is_object(),
        "{ps}"
    );
    let filtered = |f: &str| {
        let q = f
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('[', "%5B")
            .replace(']', "%5D");
        d.get(&format!("/containers/json?all=1&filters={q}"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(filtered(r#"{"name":["web"]}"#), 1);
    assert_eq!(filtered(r#"{"name":["nope"]}"#), 0);
    assert_eq!(filtered(r#"{"status":["created"]}"#), 1);
    assert_eq!(filtered(r#"{"status":["running"]}"#), 0);
    assert_eq!(filtered(r#"{"label":["app=web"]}"#), 1);
    assert_eq!(filtered(r#"{"ancestor":["busybox"]}"#), 1);
    assert_eq!(filtered(&format!(r#"{{"id":["{}"]}}"#, &id[..6])), 1);

    // Docker's key order (clients that pretty-print keep it).
    let raw = d.get("/containers/web/json").body;
    assert!(raw.starts_with(r#"{"Id":"#), "{raw}");
    assert!(
        raw.trim_end().ends_with("}}}") && raw.contains(r#""NetworkSettings":{"Bridge":"#),
        "{raw}"
    );
    let raw = d.get("/images/busybox/json").body;
    assert!(raw.starts_with(r#"{"Id":"sha256:"#), "{raw}");
    let i = inspect(&d, &id[..8]);
    assert_eq!(i["Name"], "/web");
    assert_eq!(i["Path"], "sh");
    assert_eq!(i["State"]["Status"], "created");
    assert_eq!(i["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(i["Config"]["Hostname"], &id[..12]);
    assert_eq!(i["Config"]["Image"], "busybox");
    assert!(i["Image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(i["Driver"], "overlay2");
    assert_eq!(i["NetworkSettings"]["IPAddress"], "");
    assert!(i["NetworkSettings"]["Networks"]["none"].is_object());
    let gd = &i["GraphDriver"]["Data"];
    assert!(gd["UpperDir"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{id}/upper")));
    assert!(!gd["LowerDir"].as_str().unwrap().is_empty());
    let _: bollard::models::ContainerInspectResponse = serde_json::from_value(i).unwrap();

    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    assert_eq!(d.post("/containers/web/start", None).status, 304);
    let ps = d.get("/containers/json").json();
    assert!(ps[0]["Status"].as_str().unwrap().starts_with("Up "), "{ps}");
    let i = inspect(&d, "web");
    assert_eq!(i["State"]["Running"], true);
    let pid = i["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());

    until("both log lines", || {
        let r = d.get("/containers/web/logs?stdout=1&stderr=1");
        let frames = demux(r.body.as_bytes());
        frames.contains(&(1, "out\n".into())) && frames.contains(&(2, "err\n".into()))
    });
    let r = d.get("/containers/web/logs?stderr=1");
    assert_eq!(demux(r.body.as_bytes()), [(2, "err\n".to_string())]);
    let r = d.get("/containers/web/logs?stdout=1&timestamps=1&tail=1");
    let frames = demux(r.body.as_bytes());
    assert!(
        frames[0].1.ends_with(" out\n") && frames[0].1.starts_with("20"),
        "{frames:?}"
    );
    assert_eq!(d.get("/containers/web/logs").status, 400);

    let top = d.get("/containers/web/top").json();
    assert_eq!(
        top["Titles"],
        serde_json::json!(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
    );
    let procs = top["Processes"].as_array().unwrap();
    assert!(
        procs
            .iter()
            .any(|p| p[7].as_str().unwrap().contains("sleep 100")),
        "{top}"
    );
    let pid_s = pid.to_string();
    assert!(
        procs.iter().any(|p| p[1].as_str() == Some(pid_s.as_str())),
        "{top}"
    );

    let top = d.get("/containers/web/top?ps_args=-eo%20pid,comm").json();
    assert_eq!(top["Titles"], serde_json::json!(["PID", "COMMAND"]));
    assert!(
        top["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[1] == "sleep"),
        "{top}"
    );
    assert!(
        top["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p[1] != "init" && p[1] != "systemd"),
        "{top}"
    );

    let r = d.req("DELETE", "/containers/web", None);
    assert_eq!(r.status, 409);
    assert_eq!(r.message(), format!("You cannot remove a running container {id}. Stop the container before attempting removal or force remove"));

    let t = Instant::now();
    assert_eq!(d.post("/containers/web/stop?t=1", None).status, 204);
    assert!(t.elapsed() < Duration::from_secs(5));
    let i = inspect(&d, "web");
    assert_eq!(i["State"]["Status"], "exited");
    assert_eq!(i["State"]["ExitCode"], 137);
    assert_eq!(i["State"]["Pid"], 0);
    assert_ne!(i["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    let ps = d.get("/containers/json?all=1").json();
    assert!(
        ps[0]["Status"]
            .as_str()
            .unwrap()
            .starts_with("Exited (137) "),
        "{ps}"
    );
    assert_eq!(d.post("/containers/web/stop", None).status, 304);
    assert_eq!(d.post("/containers/web/kill", None).status, 409);
    let r = d.post("/containers/web/wait", None);
    assert_eq!(
        r.json(),
        serde_json::json!({"StatusCode": 137, "Error": null})
    );

    assert_eq!(d.req("DELETE", "/containers/web", None).status, 204);
    assert_eq!(d.get("/containers/web/json").status, 404);
    until("the container dir to go", || {
        std::fs::read_dir(d.root.join("containers"))
            .unwrap()
            .count()
            == 0
    });
}

#[test]
fn wait_sends_headers_at_once_and_kill_sets_128_plus_signal() {
    let d = with_busybox();
    let id = create(
        &d,
        "",
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "100"]}),
    );
    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    // The response head arrives although the container keeps running.
    let r = common::curl(
        &d.sock,
        "POST",
        &format!("/containers/{id}/wait"),
        None,
        &["--max-time", "1"],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "");
    let sock = d.sock.clone();
    let id2 = id.clone();
    let waiter = std::thread::spawn(move || {
        common::curl(
            &sock,
            "POST",
            &format!("/containers/{id2}/wait?condition=next-exit"),
            None,
            &[],
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        d.post(&format!("/containers/{id}/kill?signal=KILL"), None)
            .status,
        204
    );
    let r = waiter.join().unwrap();
    assert_eq!(
        r.json(),
        serde_json::json!({"StatusCode": 137, "Error": null})
    );
    assert_eq!(inspect(&d, &id)["State"]["ExitCode"], 137);
    assert_eq!(
        d.post(&format!("/containers/{id}/kill?signal=NOPE"), None)
            .status,
        400
    );
    // An exited container starts again, with a new run.
    let r = d.post(&format!("/containers/{id}/restart?t=0"), None);
    assert_eq!(r.status, 204, "{r:?}");
    let i = inspect(&d, &id);
    assert_eq!(i["State"]["Status"], "running");
    assert_eq!(i["State"]["ExitCode"], 0);
    assert_eq!(
        d.req("DELETE", &format!("/containers/{id}?force=1"), None)
            .status,
        204
    );
}

#[test]
fn failed_start_keeps_created_with_127() {
    let d = with_busybox();
    let id = create(
        &d,
        "bad",
        serde_json::json!({"Image": "busybox", "Cmd": ["nosuchcmd"]}),
    );
    let r = d.post("/containers/bad/start", None);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.message().contains("executable file not found"), "{r:?}");
    let i = inspect(&d, &id);
    assert_eq!(i["State"]["Status"], "created");
    assert_eq!(i["State"]["ExitCode"], 127);
    assert_eq!(d.req("DELETE", "/containers/bad", None).status, 204);
}

#[test]
fn containers_survive_a_daemon_kill() {
    let mut d = with_busybox();
    let long = create(
        &d,
        "sleeper",
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "100"]}),
    );
    let short = create(
        &d,
        "short",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; exit 7"]}),
    );
    for id in [&long, &short] {
        assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    }
    let pid = inspect(&d, "sleeper")["State"]["Pid"].as_i64().unwrap();
    d.kill9();
    // As if the daemon died within the few ms before the shim records
    // `running`: no state.json, only a live shim.
    let _ = std::fs::remove_file(d.root.join("containers").join(&long).join("state.json"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container died with the daemon"
    );
    d.restart(CHILD);
    let i = inspect(&d, "sleeper");
    assert_eq!(i["State"]["Status"], "running");
    assert_eq!(i["State"]["Pid"], pid);
    until("short to be seen exited", || {
        inspect(&d, "short")["State"]["Status"] == "exited"
    });
    assert_eq!(inspect(&d, "short")["State"]["ExitCode"], 7);
    // The re-adopted container is still under control.
    assert_eq!(d.post("/containers/sleeper/stop?t=0", None).status, 204);
    assert_eq!(inspect(&d, "sleeper")["State"]["ExitCode"], 137);
    for n in ["sleeper", "short"] {
        assert_eq!(
            d.req("DELETE", &format!("/containers/{n}"), None).status,
            204
        );
    }
}

#[test]
fn twenty_concurrent_run_rm_get_distinct_names() {
    let d = with_busybox();
    let docker = client(&d);
    rt().block_on(async {
        let runs: Vec<_> = (0..20)
            .map(|_| {
                let docker = docker.clone();
                tokio::spawn(async move { run_rm(&docker, &["true"], None).await.0 })
            })
            .collect();
        for r in runs {
            assert_eq!(r.await.unwrap(), 0);
        }
    });
    let now = chrono::Utc::now().timestamp() + 1;
    let r = d.get(&format!(
        "/events?since=0&until={now}&filters=%7B%22event%22%3A%5B%22create%22%5D%7D"
    ));
    let names: std::collections::HashSet<String> = r
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Actor"]["Attributes"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 20, "{}", r.body);
    assert_eq!(
        d.get("/containers/json?all=1").json(),
        serde_json::json!([])
    );
}

#[test]
fn events_stream_container_life() {
    let d = with_busybox();
    let sock = d.sock.clone();
    let listener = std::thread::spawn(move || {
        common::curl(
            &sock,
            "GET",
            "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D",
            None,
            &["--max-time", "4"],
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let id = create(
        &d,
        "ev",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "exit 5"]}),
    );
    assert_eq!(d.post("/containers/ev/start", None).status, 204);
    assert_eq!(d.post("/containers/ev/wait", None).json()["StatusCode"], 5);
    assert_eq!(d.req("DELETE", "/containers/ev", None).status, 204);
    let r = listener.join().unwrap();
    let events: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["Action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "start", "die", "destroy"], "{}", r.body);
    let die = &events[2];
    assert_eq!(die["Actor"]["ID"], id.as_str());
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "5");
    assert_eq!(die["Actor"]["Attributes"]["name"], "ev");
    assert_eq!(die["Actor"]["Attributes"]["image"], "busybox");
    assert_eq!(die["status"], "die");
    assert_eq!(die["from"], "busybox");
}

#[test]
fn images_list_inspect_tag_remove() {
    let d = with_busybox();
    let list = d.get("/images/json").json();
    assert_eq!(list[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert!(list[0]["Size"].as_i64().unwrap() > 100_000);
    let _: Vec<bollard::models::ImageSummary> = serde_json::from_value(list.clone()).unwrap();
    let img = d.get("/images/busybox/json").json();
    assert_eq!(img["Id"], list[0]["Id"]);
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Os"], "linux");
    let _: bollard::models::ImageInspect = serde_json::from_value(img).unwrap();
    let h = d.get("/images/busybox/history").json();
    assert_eq!(h[0]["Id"], list[0]["Id"]);
    assert_eq!(h[0]["Tags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(
        h.as_array()
            .unwrap()
            .iter()
            .map(|e| e["Size"].as_i64().unwrap())
            .sum::<i64>(),
        list[0]["Size"].as_i64().unwrap()
    );

    assert_eq!(
        d.post("/images/busybox/tag?repo=mybox&tag=v1", None).status,
        201
    );
    assert_eq!(d.get("/images/mybox:v1/json").json()["Id"], list[0]["Id"]);
    let id = create(
        &d,
        "user",
        serde_json::json!({"Image": "mybox:v1", "Cmd": ["true"]}),
    );
    let r = d.req("DELETE", "/images/mybox:v1", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), serde_json::json!([{"Untagged": "mybox:v1"}]));
    // The last tag of an image a container uses.
    let r = d.req("DELETE", "/images/busybox", None);
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(
        d.req("DELETE", &format!("/containers/{id}"), None).status,
        204
    );
    let r = d.req("DELETE", "/images/busybox", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Deleted"), "{r:?}");
    assert_eq!(d.get("/images/json").json(), serde_json::json!([]));
}

#[test]
fn prune_removes_what_is_not_running() {
    let d = with_busybox();
    let created = create(
        &d,
        "c1",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    let exited = create(
        &d,
        "c2",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    let running = create(
        &d,
        "c3",
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "100"]}),
    );
    for id in [&exited, &running] {
        assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    }
    assert_eq!(d.post("/containers/c2/wait", None).json()["StatusCode"], 0);
    let r = d.post("/containers/prune", None).json();
    let mut gone: Vec<String> = serde_json::from_value(r["ContainersDeleted"].clone()).unwrap();
    gone.sort();
    let mut want = vec![created, exited];
    want.sort();
    assert_eq!(gone, want);
    let left = d.get("/containers/json?all=1").json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["Id"], running.as_str());
    assert_eq!(d.req("DELETE", "/containers/c3?force=1", None).status, 204);
}

#[test]
fn logs_follow_streams_each_line_once_until_exit() {
    let d = with_busybox();
    let id = create(
        &d,
        "talker",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo one; sleep 0.5; echo two >&2; sleep 0.5; echo three"]}),
    );
    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    let t = Instant::now();
    let r = d.get("/containers/talker/logs?follow=1&stdout=1&stderr=1&timestamps=1");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "follow ended before the container"
    );
    let frames = demux(r.body.as_bytes());
    let text: Vec<(u8, String)> = frames
        .iter()
        .map(|(s, l)| (*s, l.split_once(' ').unwrap().1.to_string()))
        .collect();
    assert_eq!(
        text,
        [
            (1, "one\n".to_string()),
            (2, "two\n".to_string()),
            (1, "three\n".to_string())
        ],
        "{frames:?}"
    );
    assert!(frames.iter().all(|(_, l)| l.starts_with("20")));
    assert_eq!(d.req("DELETE", "/containers/talker", None).status, 204);
}

#[test]
fn a_dead_shim_leaves_exit_255_and_nothing_running() {
    let d = with_busybox();
    let id = create(
        &d,
        "orphan",
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "100"]}),
    );
    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    let pid = inspect(&d, "orphan")["State"]["Pid"].as_i64().unwrap();
    // The shim records `running` a few ms after start.
    let state_path = d.root.join("containers").join(&id).join("state.json");
    until("state.json", || state_path.exists());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let shim_pid = state["shim_pid"].as_i64().unwrap();
    assert!(shim_pid > 0);
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &shim_pid.to_string()])
        .status();
    until("the daemon to notice", || {
        inspect(&d, "orphan")["State"]["Status"] == "exited"
    });
    let i = inspect(&d, "orphan");
    assert_eq!(i["State"]["ExitCode"], 255);
    assert_eq!(i["State"]["Error"], "shim died");
    until("the container's init to be gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
    assert_eq!(d.req("DELETE", "/containers/orphan", None).status, 204);
    let leftovers: Vec<_> = ["memory", "pids", "cpu"]
        .iter()
        .map(|c| {
            std::path::Path::new("/sys/fs/cgroup")
                .join(c)
                .join("whale")
                .join(&id)
        })
        .filter(|p| p.exists())
        .collect();
    assert!(leftovers.is_empty(), "cgroups left: {leftovers:?}");
}

#[test]
fn stats_report_cgroup_counters() {
    let d = with_busybox();
    let id = create(
        &d,
        "busy",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "while :; do :; done"],
                           "HostConfig": {"Memory": 67108864, "PidsLimit": 50}}),
    );
    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    let t = Instant::now();
    let v = d.get("/containers/busy/stats?stream=0").json();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "no second sample"
    );
    assert_eq!(v["name"], "/busy");
    assert_eq!(v["id"], id.as_str());
    let cpu = v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap();
    let pre = v["precpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    assert!(cpu > pre, "the busy loop used no CPU: {v}");
    assert!(v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    assert_eq!(v["memory_stats"]["limit"], 67108864);
    assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0, "{v}");
    assert!(v["pids_stats"]["current"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["pids_stats"]["limit"], 50);
    let one = d.get("/containers/busy/stats?stream=0&one-shot=1").json();
    assert_eq!(one["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(
        d.req("DELETE", "/containers/busy?force=1", None).status,
        204
    );
}

#[test]
fn changes_list_what_the_container_wrote() {
    let d = with_busybox();
    let id = create(
        &d,
        "writer",
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo x > /newfile; rm /bin/ls; mkdir /etc/foo; echo y >> /etc/passwd"]}),
    );
    assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
    assert_eq!(
        d.post("/containers/writer/wait", None).json()["StatusCode"],
        0
    );
    let v = d.get("/containers/writer/changes").json();
    assert_eq!(
        v,
        serde_json::json!([
            {"Path": "/bin", "Kind": 0},
            {"Path": "/bin/ls", "Kind": 2},
            {"Path": "/etc", "Kind": 0},
            {"Path": "/etc/foo", "Kind": 1},
            {"Path": "/etc/passwd", "Kind": 0},
            {"Path": "/newfile", "Kind": 1},
        ])
    );
    // A fresh container of the same image changed nothing.
    let other = create(
        &d,
        "clean",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    assert_eq!(
        d.post(&format!("/containers/{other}/start"), None).status,
        204
    );
    assert_eq!(
        d.post("/containers/clean/wait", None).json()["StatusCode"],
        0
    );
    assert_eq!(
        d.get("/containers/clean/changes").json(),
        serde_json::json!([])
    );
}

#[test]
fn a_container_never_finishes_before_it_starts() {
    let d = with_busybox();
    for i in 0..10 {
        let name = format!("quick{i}");
        let id = create(
            &d,
            &name,
            serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
        );
        assert_eq!(d.post(&format!("/containers/{id}/start"), None).status, 204);
        assert_eq!(
            d.post(&format!("/containers/{id}/wait"), None).json()["StatusCode"],
            0
        );
        let st = inspect(&d, &id)["State"].clone();
        let (s, f) = (
            st["StartedAt"].as_str().unwrap(),
            st["FinishedAt"].as_str().unwrap(),
        );
        let s = chrono::DateTime::parse_from_rfc3339(s).unwrap();
        let f = chrono::DateTime::parse_from_rfc3339(f).unwrap();
        assert!(f >= s, "{st}");
    }
}
