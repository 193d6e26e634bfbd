//! Honour or refuse: an option whale does not carry out is refused with a
//! message naming it, through the API and the stock docker CLI, and
//! nothing is created.

use whale_e2e::{docker_cli, World};

/// docker CLI options that whale refuses, with what its message says.
/// Options other parts of whale honour are not here; the unit tests in
/// runtime/src/container/fields/ cover every field of the table.
const REFUSED: &[(&[&str], &str)] = &[
    (&["--gpus", "all"], "HostConfig.DeviceRequests (--gpus)"),
    (&["--cgroup-parent", "elsewhere"], "HostConfig.CgroupParent"),
    (&["--blkio-weight", "300"], "HostConfig.BlkioWeight"),
    (&["--oom-kill-disable"], "HostConfig.OomKillDisable"),
    (&["--log-driver", "syslog"], "log driver syslog"),
    (&["--runtime", "runsc"], "runtime specified runsc"),
    (&["--isolation", "hyperv"], "HostConfig.Isolation"),
];

#[test]
fn docker_cli_options_whale_ignores_would_be_refused() {
    let Some(_) = docker_cli() else {
        eprintln!("SKIPPED: no docker CLI at /usr/local/bin/docker or /usr/bin/docker (apt-get install docker.io)");
        return;
    };
    let w = World::with_busybox();
    for (opts, field) in REFUSED {
        let mut args = vec!["create", "--name", "refused"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["busybox", "true"]);
        let out = w.docker(&args).expect("docker");
        assert_eq!(out.code(), Some(1), "{opts:?} should be refused: {out}");
        assert!(
            out.stderr.contains(field) && out.stderr.contains("whale"),
            "{opts:?}: the message should name {field}: {out}"
        );
    }
    // Nothing was created by the refused requests.
    let ps = w.whale_ok(&["ps", "-aq"]);
    assert_eq!(ps.out(), "", "{ps}");
}

#[test]
fn api_refuses_a_set_field_and_accepts_its_default() {
    let w = World::with_busybox();
    let r = w.api(
        "POST",
        "/containers/create?name=gpu",
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"DeviceRequests":[{"Count":-1,"Capabilities":[["gpu"]]}]}}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("HostConfig.DeviceRequests (--gpus)"),
        "{}",
        r.text()
    );
    let r = w.api(
        "POST",
        "/containers/create?name=newer",
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"SomeFutureOption":true}}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("HostConfig.SomeFutureOption"),
        "{}",
        r.text()
    );
    // The same fields at their defaults are what clients send every time.
    let r = w.api(
        "POST",
        "/containers/create?name=plain",
        Some(r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"DeviceRequests":null,"SomeFutureOption":false,"CgroupParent":""}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let ps = w.whale_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.out(), "plain", "{ps}");
}

#[test]
fn exec_refuses_what_it_would_ignore() {
    let w = World::with_busybox();
    w.run_d(&["--name", "box", "busybox", "sleep", "1000"]);
    let r = w.api(
        "POST",
        "/containers/box/exec",
        Some(r#"{"Cmd":["true"],"NoSuchExecOption":"x"}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("NoSuchExecOption"), "{}", r.text());
}
