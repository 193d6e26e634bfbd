//! The daemon over its socket: everything that needs no image and no shim.

#[path = "daemon_common/mod.rs"]
mod common;

use common::Daemon;

const CHILD: &str = "daemon_child";

#[test]
fn daemon_child() {
    common::child_main();
}

#[test]
fn ping_version_info_with_and_without_prefix() {
    let d = Daemon::start(CHILD);
    for prefix in ["", "/v1.41", "/v1.43"] {
        let r = d.get(&format!("{prefix}/_ping"));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "OK");
        assert_eq!(r.header("api-version"), Some("1.43"));
        assert_eq!(r.header("ostype"), Some("linux"));
        assert_eq!(r.header("docker-experimental"), Some("false"));
        assert!(r.header("cache-control").unwrap().contains("no-cache"));
    }
    let r = d.req("HEAD", "/_ping", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("api-version"), Some("1.43"));

    let v = d.get("/v1.41/version").json();
    assert_eq!(v["ApiVersion"], "1.43");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(!v["KernelVersion"].as_str().unwrap().is_empty());
    let _: bollard::models::SystemVersion = serde_json::from_value(v).unwrap();

    let i = d.get("/info").json();
    assert_eq!(i["Containers"], 0);
    assert_eq!(i["Images"], 0);
    assert_eq!(i["Driver"], "overlay2");
    assert!(["1", "2"].contains(&i["CgroupVersion"].as_str().unwrap()));
    assert_eq!(i["DockerRootDir"], d.root.display().to_string());
    assert!(i["NCPU"].as_i64().unwrap() >= 1);
    assert!(i["MemTotal"].as_i64().unwrap() > 0);
    let _: bollard::models::SystemInfo = serde_json::from_value(i).unwrap();
}

#[test]
fn errors_are_docker_json() {
    let d = Daemon::start(CHILD);
    assert_eq!(d.get("/containers/json").json(), serde_json::json!([]));
    assert_eq!(
        d.get("/containers/json?all=1").json(),
        serde_json::json!([])
    );

    let r = d.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "page not found");

    for (m, p) in [
        ("GET", "/containers/nosuch/json"),
        ("POST", "/containers/nosuch/start"),
        ("POST", "/containers/nosuch/stop"),
        ("POST", "/containers/nosuch/kill"),
        ("POST", "/containers/nosuch/wait"),
        ("DELETE", "/containers/nosuch"),
        ("GET", "/v1.41/containers/nosuch/logs?stdout=1"),
    ] {
        let r = d.req(m, p, None);
        assert_eq!(r.status, 404, "{m} {p}: {r:?}");
        assert_eq!(r.message(), "No such container: nosuch");
    }

    let r = d.post(
        "/containers/create",
        Some(r#"{"Image":"nosuch","Cmd":["true"]}"#),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "No such image: nosuch:latest");

    let r = d.post(
        "/containers/create?name=-bad",
        Some(r#"{"Image":"nosuch"}"#),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("Invalid container name (-bad)"),
        "{r:?}"
    );

    let r = d.post("/containers/create", Some("{not json"));
    assert_eq!(r.status, 400);

    let r = d.get("/containers/json?filters=%7Bnope");
    assert_eq!(r.status, 400);
    let r = d.get("/containers/json?filters=%7B%22color%22%3A%5B%22red%22%5D%7D");
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "invalid filter 'color'");

    let r = d.post("/images/create?fromImage=busybox&tag=latest", None);
    assert_eq!(r.status, 404);
    let m = r.message();
    assert!(
        m.contains("no registry") && m.contains("whale bootstrap busybox"),
        "{m}"
    );
    let r = d.post(
        "/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest",
        None,
    );
    assert!(
        r.message()
            .starts_with("pull access denied for busybox:latest:"),
        "{r:?}"
    );

    let r = d.get("/images/nosuch/json");
    assert_eq!(r.status, 404);
    assert_eq!(d.get("/images/json").json(), serde_json::json!([]));
}

#[test]
fn events_until_in_the_past_end_at_once() {
    let d = Daemon::start(CHILD);
    let r = d.get("/events?since=0&until=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
}

#[test]
fn one_daemon_per_root_and_sigterm_exits_cleanly() {
    let mut d = Daemon::start(CHILD);
    let other_sock = d.dir.path().join("other.sock");
    let second =
        common::spawn_child_with(&d.root, &other_sock, CHILD, std::process::Stdio::piped())
            .wait_with_output()
            .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another whale daemon is already using the root dir"),
        "{err}"
    );
    assert!(!other_sock.exists());

    let st = d.stop();
    assert!(st.success(), "{st}");
    assert!(!d.sock.exists(), "socket left behind");

    // A stale socket (daemon killed) does not keep the next one from starting.
    d.restart(CHILD);
    d.kill9();
    assert!(d.sock.exists());
    d.restart(CHILD);
    assert_eq!(d.get("/_ping").body, "OK");
}

#[test]
fn socket_mode_is_0660() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start(CHILD);
    let mode = std::fs::metadata(&d.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
}
