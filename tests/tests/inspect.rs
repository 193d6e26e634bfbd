//! `inspect`: Docker's JSON shape.

use whale_e2e::{is_hex, World};

fn is_rfc3339(s: &str) -> bool {
    s.len() >= 20
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[10] == b'T'
        && (s.ends_with('Z') || s.contains('+'))
}

#[test]
fn running_container_shape() {
    let w = World::with_busybox();
    let id = w.run_d(&[
        "--name", "shape", "-e", "FOO=bar", "busybox", "sleep", "1000",
    ]);
    let v = w.inspect("shape");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/shape");
    assert!(v["Created"].as_str().is_some_and(is_rfc3339), "{v}");
    assert_eq!(v["Path"], "sleep");
    assert_eq!(v["Args"], serde_json::json!(["1000"]));
    assert!(
        v["Image"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:") && is_hex(&s[7..], 64)),
        "{v}"
    );
    let st = &v["State"];
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Running"], true);
    assert_eq!(st["Paused"], false);
    assert_eq!(st["Restarting"], false);
    assert_eq!(st["OOMKilled"], false);
    assert_eq!(st["Dead"], false);
    assert!(st["Pid"].as_i64().is_some_and(|p| p > 1), "{st}");
    assert_eq!(st["ExitCode"], 0);
    assert!(st["Error"].is_string());
    assert!(st["StartedAt"].as_str().is_some_and(is_rfc3339), "{st}");
    assert_eq!(st["FinishedAt"], "0001-01-01T00:00:00Z", "{st}");
    let cfg = &v["Config"];
    assert_eq!(cfg["Hostname"], &id[..12]);
    assert_eq!(cfg["Image"], "busybox");
    assert_eq!(cfg["Cmd"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(cfg["Tty"], false);
    assert_eq!(cfg["OpenStdin"], false);
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert!(env.contains(&"FOO=bar"), "{cfg}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{cfg}");
    let hc = &v["HostConfig"];
    assert!(
        hc["NetworkMode"]
            .as_str()
            .is_some_and(|m| m != "host" && !m.is_empty()),
        "the default is loopback only: {hc}"
    );
    assert!(hc["Memory"].is_i64() && hc["NanoCpus"].is_i64(), "{hc}");
    assert_eq!(hc["AutoRemove"], false);
    let gd = &v["GraphDriver"];
    assert_eq!(gd["Name"], "overlay2", "{gd}");
    for key in ["LowerDir", "UpperDir", "MergedDir", "WorkDir"] {
        let p = gd["Data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("GraphDriver.Data.{key}: {gd}"));
        for part in p.split(':') {
            assert!(
                part.starts_with(w.root().to_str().unwrap_or("?")),
                "{key}={p} is under the root"
            );
        }
    }
    assert!(std::path::Path::new(gd["Data"]["UpperDir"].as_str().unwrap_or("")).is_dir());
}

#[test]
fn exited_container_shape() {
    let w = World::with_busybox();
    w.whale(&["run", "--name", "ex", "busybox", "sh", "-c", "exit 9"])
        .expect_code(9);
    let st = &w.inspect("ex")["State"];
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["Running"], false);
    assert_eq!(st["ExitCode"], 9);
    assert_eq!(st["Pid"], 0);
    let started = st["StartedAt"].as_str().unwrap_or("");
    let finished = st["FinishedAt"].as_str().unwrap_or("");
    assert!(is_rfc3339(started) && is_rfc3339(finished), "{st}");
    assert!(finished >= started, "{st}");
}

#[test]
fn created_container_and_network_modes() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "create",
        "--name",
        "cr",
        "--network",
        "host",
        "busybox",
        "true",
    ]);
    let v = w.inspect("cr");
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(v["HostConfig"]["NetworkMode"], "host");
}

#[test]
fn inspect_of_nothing_fails() {
    let w = World::with_busybox();
    let out = w.whale(&["inspect", "nosuchthing"]);
    assert!(!out.ok(), "{out}");
    assert!(out.stderr.contains("nosuchthing"), "{out}");
}
