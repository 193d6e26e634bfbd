//! The Docker Engine API subset, spoken on the daemon's socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};
use whale_e2e::{is_hex, run_command, World, DEFAULT_TIMEOUT};

#[test]
fn curl_containers_json_is_docker_shaped() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "up", "busybox", "sleep", "1000"]);
    w.whale_ok(&["run", "--name", "done", "busybox", "true"]);
    let body = if std::path::Path::new("/usr/bin/curl").exists() {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--fail", "--unix-socket"])
            .arg(w.socket())
            .arg("http://localhost/containers/json?all=1");
        run_command(cmd, None, DEFAULT_TIMEOUT).success().stdout
    } else {
        eprintln!("curl is not installed: using a raw request instead");
        w.api("GET", "/containers/json?all=1", None).text()
    };
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let list = v.as_array().unwrap_or_else(|| panic!("an array: {body}"));
    assert_eq!(list.len(), 2, "{body}");
    let up = list
        .iter()
        .find(|c| c["Names"][0] == "/up")
        .unwrap_or_else(|| panic!("no /up: {body}"));
    assert_eq!(up["Id"], id.as_str());
    assert_eq!(up["Image"], "busybox");
    assert!(
        up["ImageID"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "{up}"
    );
    assert_eq!(up["Command"], "sleep 1000");
    assert!(up["Created"].is_i64(), "{up}");
    assert_eq!(up["State"], "running");
    assert!(
        up["Status"].as_str().is_some_and(|s| s.starts_with("Up ")),
        "{up}"
    );
    assert!(
        up["Ports"].is_array() && up["Labels"].is_object() && up["Mounts"].is_array(),
        "{up}"
    );
    let done = list
        .iter()
        .find(|c| c["Names"][0] == "/done")
        .expect("/done");
    assert_eq!(done["State"], "exited");
    assert!(
        done["Status"]
            .as_str()
            .is_some_and(|s| s.starts_with("Exited (0) ")),
        "{done}"
    );
    let running_only = w.api("GET", "/containers/json", None).json();
    assert_eq!(
        running_only.as_array().map(Vec::len),
        Some(1),
        "{running_only}"
    );
}

#[test]
fn version_prefixes_ping_version_info() {
    let w = World::with_busybox();
    let ping = w.api("GET", "/_ping", None);
    assert_eq!((ping.status, ping.text().as_str()), (200, "OK"));
    assert!(
        ping.header("Api-Version").is_some(),
        "docker clients negotiate with Api-Version: {:?}",
        ping.headers
    );
    let v = w.api("GET", "/v1.41/version", None);
    assert_eq!(v.status, 200);
    let v = v.json();
    assert!(
        v["ApiVersion"].is_string() && v["Version"].is_string(),
        "{v}"
    );
    assert_eq!(v["Os"], "linux");
    let info = w.api("GET", "/info", None).json();
    assert_eq!(info["Images"], 1, "{info}");
    assert!(info["Containers"].is_u64(), "{info}");
    let listed = w.api("GET", "/v1.43/containers/json?all=true", None);
    assert_eq!(listed.status, 200, "{}", listed.text());
}

#[test]
fn errors_are_json_with_docker_status_codes() {
    let w = World::with_busybox();
    for (method, path, want) in [
        ("GET", "/containers/nosuch/json", 404),
        ("POST", "/containers/nosuch/start", 404),
        ("DELETE", "/containers/nosuch", 404),
        ("GET", "/images/nosuch/json", 404),
        ("DELETE", "/images/nosuch", 404),
    ] {
        let r = w.api(method, path, None);
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        assert!(
            r.header("Content-Type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{method} {path}: {:?}",
            r.headers
        );
        let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains("nosuch"), "{method} {path}: message {msg:?}");
    }
    let r = w.api(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"nosuchimage","Cmd":["true"]}"#),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    w.run_d(&["--name", "busy", "busybox", "sleep", "1000"]);
    let r = w.api("DELETE", "/containers/busy", None);
    assert_eq!(r.status, 409, "removing a running container: {}", r.text());
}

#[test]
fn create_start_wait_over_the_api() {
    let w = World::with_busybox();
    let r = w.api(
        "POST",
        "/containers/create?name=apic",
        Some(r#"{"Image":"busybox","Cmd":["sh","-c","exit 6"]}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().unwrap_or_default().to_string();
    assert!(is_hex(&id, 64), "{}", r.text());
    let r = w.api("POST", "/containers/apic/start", None);
    assert_eq!(r.status, 204, "{}", r.text());
    let r = w.api("POST", &format!("/containers/{}/wait", &id[..8]), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["StatusCode"], 6);
    let r = w.api("POST", "/containers/apic/start", None);
    assert!(r.status == 204 || r.status == 304, "{}", r.text());
}

/// The requests of lesson 5, as curl sends them: a sparse JSON body with
/// labels, start, list, inspect, stop, delete; the answers Docker gives.
#[test]
fn lesson_five_raw_requests_are_docker_shaped() {
    let w = World::with_busybox();
    let r = w.api(
        "POST",
        "/containers/create?name=by-curl",
        Some(r#"{"Image": "busybox", "Cmd": ["sh", "-c", "echo hello from curl; sleep 3600"], "Labels": {"made-by": "curl"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["Warnings"], serde_json::json!([]), "{}", r.text());
    let r = w.api("POST", "/containers/by-curl/start", None);
    assert_eq!(r.status, 204, "{}", r.text());
    let list = w
        .api(
            "GET",
            "/containers/json?filters=%7B%22label%22%3A%5B%22made-by%22%5D%7D",
            None,
        )
        .json();
    let c = &list[0];
    assert_eq!(c["Names"], serde_json::json!(["/by-curl"]), "{list}");
    // Docker quotes an argument with spaces in COMMAND.
    assert_eq!(c["Command"], "sh -c 'echo hello from curl; sleep 3600'");
    assert_eq!(c["Labels"], serde_json::json!({"made-by": "curl"}));
    assert_eq!(c["State"], "running");
    let v = w.api("GET", "/containers/by-curl/json", None).json();
    let cfg = v["Config"].as_object().expect("Config");
    // Every key Docker prints even when the body left it out.
    for (k, want) in [
        ("Domainname", serde_json::json!("")),
        ("User", serde_json::json!("")),
        ("Tty", serde_json::json!(false)),
        ("OpenStdin", serde_json::json!(false)),
        ("AttachStdout", serde_json::json!(false)),
        ("WorkingDir", serde_json::json!("")),
        ("Entrypoint", serde_json::Value::Null),
        ("Labels", serde_json::json!({"made-by": "curl"})),
    ] {
        assert_eq!(cfg.get(k), Some(&want), "Config.{k} in {v}");
    }
    assert_eq!(v["State"]["Status"], "running");
    let keys: Vec<&String> = v.as_object().expect("an object").keys().collect();
    let exec_ids = keys.iter().position(|k| *k == "ExecIDs");
    let host_config = keys.iter().position(|k| *k == "HostConfig");
    assert!(
        exec_ids.is_some() && exec_ids.map(|i| i + 1) == host_config,
        "ExecIDs just before HostConfig: {keys:?}"
    );
    assert_eq!(v["ExecIDs"], serde_json::Value::Null);
    // sleep as PID 1 ignores SIGTERM: stop kills it after t seconds.
    let r = w.api("POST", "/containers/by-curl/stop?t=1", None);
    assert_eq!(r.status, 204, "{}", r.text());
    let v = w.api("GET", "/containers/by-curl/json", None).json();
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    let r = w.api("DELETE", "/containers/by-curl", None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(w.api("GET", "/containers/by-curl/json", None).status, 404);
}

#[test]
fn wait_sends_its_headers_at_once() {
    let w = World::with_busybox();
    w.run_d(&["--name", "slow", "busybox", "sleep", "1000"]);
    let mut s = UnixStream::connect(w.socket()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    s.write_all(
        b"POST /containers/slow/wait HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    )
    .expect("write");
    let start = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no headers from /wait within {:?}: {e}", start.elapsed()),
        }
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    w.whale_ok(&["kill", "slow"]);
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = s.read_to_end(&mut rest);
    let all = String::from_utf8_lossy(&[head, rest].concat()).into_owned();
    assert!(all.contains("\"StatusCode\":137"), "{all}");
}

#[test]
fn logs_and_top_endpoints() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    let r = w.api("GET", "/containers/talker/logs?stdout=1&stderr=1", None);
    assert_eq!(r.status, 200);
    // Non-tty logs use Docker's stream framing: [stream, 0, 0, 0, len(4, BE)] payload.
    let mut frames = Vec::new();
    let mut b = &r.body[..];
    while b.len() >= 8 {
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        assert!(b.len() >= 8 + len, "truncated frame: {:?}", r.text());
        frames.push((b[0], String::from_utf8_lossy(&b[8..8 + len]).into_owned()));
        b = &b[8 + len..];
    }
    assert!(b.is_empty(), "trailing bytes: {:?}", r.text());
    assert_eq!(
        frames,
        vec![(1, "to-out\n".to_string()), (2, "to-err\n".to_string())]
    );

    w.run_d(&["--name", "topper", "busybox", "sleep", "1000"]);
    let top = w.api("GET", "/containers/topper/top", None).json();
    assert!(
        top["Titles"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "PID")),
        "{top}"
    );
    let procs = top["Processes"].as_array().expect("Processes");
    assert_eq!(procs.len(), 1, "{top}");
}

#[test]
fn images_endpoints() {
    let w = World::with_busybox();
    let list = w.api("GET", "/images/json", None).json();
    let img = &list[0];
    assert_eq!(img["RepoTags"][0], "busybox:latest", "{list}");
    assert!(
        img["Id"].as_str().is_some_and(|s| s.starts_with("sha256:")),
        "{img}"
    );
    assert!(img["Size"].as_i64().is_some_and(|s| s > 100_000), "{img}");
    assert!(img["Created"].is_i64(), "{img}");
    let one = w.api("GET", "/images/busybox/json", None).json();
    assert_eq!(one["Id"], img["Id"]);
    assert_eq!(one["RootFS"]["Type"], "layers", "{one}");
    assert_eq!(
        one["RootFS"]["Layers"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );
    assert!(one["Config"]["Cmd"].is_array(), "{one}");
    assert_eq!(one["Os"], "linux");
}

#[test]
fn events_report_the_life_cycle() {
    let w = World::with_busybox();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        - 1;
    w.whale_ok(&["run", "--rm", "--name", "ev", "busybox", "true"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 1;
    let r = w.api("GET", &format!("/events?since={since}&until={now}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let actions: Vec<String> = r
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["Type"] == "container" && e["Actor"]["Attributes"]["name"] == "ev")
        .filter_map(|e| e["Action"].as_str().map(str::to_string))
        .collect();
    for want in ["create", "start", "die", "destroy"] {
        assert!(
            actions.iter().any(|a| a == want),
            "no {want} event in {actions:?}:\n{}",
            r.text()
        );
    }
}

/// A client that does not ask to upgrade (curl without `Upgrade: tcp`)
/// gets dockerd's `200` and the exec's output as the body, framed unless
/// the start says `Tty: true`; attach with `logs=1&stream=0` answers at
/// once with what the container logged, though it still runs.
#[test]
fn exec_start_and_attach_without_upgrade_answer_200() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "noup",
        "busybox",
        "sh",
        "-c",
        "echo logged; sleep 300",
    ]);
    let create = |tty: bool| {
        let body = format!(
            r#"{{"Cmd":["echo","hi"],"AttachStdout":true,"AttachStderr":true,"Tty":{tty}}}"#
        );
        let r = w.api("POST", "/containers/noup/exec", Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["Id"].as_str().unwrap_or_default().to_string()
    };
    let id = create(false);
    let r = w.api("POST", &format!("/exec/{id}/start"), Some("{}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.docker.raw-stream")
    );
    assert_eq!(r.body, b"\x01\0\0\0\0\0\0\x03hi\n", "{}", r.text());
    let r = w.api("GET", &format!("/exec/{id}/json"), None);
    assert_eq!(r.json()["ExitCode"], 0, "{}", r.text());
    // Created with a terminal, started without: framed, as dockerd does.
    let id = create(true);
    let r = w.api(
        "POST",
        &format!("/exec/{id}/start"),
        Some(r#"{"Tty":false}"#),
    );
    assert_eq!(r.body, b"\x01\0\0\0\0\0\0\x04hi\r\n", "{:?}", r.text());
    let id = create(true);
    let r = w.api(
        "POST",
        &format!("/exec/{id}/start"),
        Some(r#"{"Tty":true}"#),
    );
    assert_eq!(r.body, b"hi\r\n", "{:?}", r.text());

    for _ in 0..100 {
        if w.whale_ok(&["logs", "noup"]).stdout.contains("logged") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let r = w.api(
        "POST",
        "/containers/noup/attach?logs=1&stream=0&stdout=1&stderr=1",
        None,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"\x01\0\0\0\0\0\0\x07logged\n", "{:?}", r.text());
    // An exec of a running process: ExitCode null, not absent.
    let r = w.api(
        "POST",
        "/containers/noup/exec",
        Some(r#"{"Cmd":["sleep","30"]}"#),
    );
    let id = r.json()["Id"].as_str().unwrap_or_default().to_string();
    let r = w.api(
        "POST",
        &format!("/exec/{id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = w.api("GET", &format!("/exec/{id}/json"), None).json();
    assert_eq!(v["Running"], true, "{v}");
    assert!(
        v.as_object()
            .is_some_and(|o| o.get("ExitCode") == Some(&serde_json::Value::Null)),
        "{v}"
    );
    // An unknown route with a body: a clean 404 after the body is read.
    let big = "x".repeat(4 << 20);
    let r = w.api("POST", "/no/such/route", Some(&big));
    assert_eq!(r.status, 404, "{}", r.text());
    w.whale_ok(&["rm", "-f", "noup"]);
}
