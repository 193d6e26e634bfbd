//! Published ports without bridges: `-p` and `-P` reach a server on the
//! container's loopback through the shim's user-space proxy, through the
//! whale CLI and the stock docker CLI; the proxy stops with the container.
//! Every host address used here is 127.0.0.1 (`-P` binds Docker's default,
//! 0.0.0.0, on an ephemeral port, and is reached through 127.0.0.1).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;
use whale_e2e::{docker_cli, wait_for, World};

/// A port nobody listens on right now (the kernel's pick).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// `GET path` over HTTP/1.0: the body, or the error of the connection.
fn get(port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)?;
    let at = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {all:?}")))?;
    let head = String::from_utf8_lossy(&all[..at]).to_string();
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(std::io::Error::other(format!("answer: {head}")));
    }
    Ok(all[at + 4..].to_vec())
}

/// The page once the server inside is up (it starts a moment after `run -d`).
#[track_caller]
fn get_when_up(port: u16, path: &str) -> Vec<u8> {
    wait_for(Duration::from_secs(10), || get(port, path).ok()).unwrap_or_else(|| {
        panic!(
            "nothing answered on 127.0.0.1:{port}{path}: {:?}",
            get(port, path)
        )
    })
}

/// After the container stops, nobody listens: refused, not reset or hung.
#[track_caller]
fn assert_refused(port: u16) {
    let r = TcpStream::connect(("127.0.0.1", port));
    assert_eq!(
        r.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused),
        "127.0.0.1:{port} should refuse connections: {r:?}"
    );
}

fn short(id: &str) -> &str {
    &id[..12]
}

#[test]
fn publish_reaches_httpd_on_the_container_loopback_and_stops_with_it() {
    let w = World::with_busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let id = w.run_d(&[
        "--name", "web", "-p", &publish, "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc",
    ]);
    // httpd serves the container's /etc/hostname: its short id.
    let page = get_when_up(port, "/hostname");
    assert_eq!(String::from_utf8_lossy(&page).trim(), short(&id));

    let ports = w.whale_ok(&["port", "web"]);
    assert_eq!(
        ports.out(),
        format!("8080/tcp -> 127.0.0.1:{port}"),
        "{ports}"
    );
    let one = w.whale_ok(&["port", "web", "8080/tcp"]);
    assert_eq!(one.out(), format!("127.0.0.1:{port}"), "{one}");
    w.whale(&["port", "web", "9999"]).expect_code(1);
    let ps = w.whale_ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps.out(), format!("127.0.0.1:{port}->8080/tcp"), "{ps}");
    let line = w.ps_line(false, "web").expect("web in ps");
    assert!(
        line.contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "{line}"
    );

    let c = w.inspect("web");
    let want =
        serde_json::json!({"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": port.to_string()}]});
    assert_eq!(c["NetworkSettings"]["Ports"], want, "{c:#}");
    assert_eq!(c["HostConfig"]["PortBindings"], want, "{c:#}");
    assert_eq!(
        c["Config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );

    // A second container cannot take the port: Docker's message, exit 125,
    // and nothing left running.
    let taken = w.whale(&[
        "run", "-d", "--name", "second", "-p", &publish, "busybox", "sleep", "60",
    ]);
    let taken = taken.expect_code(125);
    assert!(
        taken.stderr.contains(&format!(
            "listen tcp4 127.0.0.1:{port}: bind: address already in use"
        )),
        "{taken}"
    );
    assert_eq!(w.inspect_f("{{.State.Status}}", "second"), "created");

    w.whale_ok(&["stop", "-t", "1", "web"]);
    assert_refused(port);
    let c = w.inspect("web");
    assert_eq!(
        c["NetworkSettings"]["Ports"],
        serde_json::json!({}),
        "{c:#}"
    );
    assert_eq!(
        c["HostConfig"]["PortBindings"], want,
        "kept for the next start"
    );
    assert_eq!(w.whale_ok(&["port", "web"]).out(), "");

    // Started again, the same port is published again.
    w.whale_ok(&["start", "web"]);
    let page = get_when_up(port, "/hostname");
    assert_eq!(String::from_utf8_lossy(&page).trim(), short(&id));
    w.whale_ok(&["rm", "-f", "web"]);
    assert_refused(port);
}

#[test]
fn a_port_in_use_on_the_host_fails_the_start() {
    let w = World::with_busybox();
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let out = w.whale(&[
        "run",
        "--name",
        "clash",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    let out = out.expect_code(125);
    assert!(out.stderr.contains("bind: address already in use"), "{out}");
    assert_eq!(w.inspect_f("{{.State.Status}}", "clash"), "created");
    drop(held);
    // Freed, the same container starts.
    w.whale_ok(&["start", "clash"]);
}

#[test]
fn publish_all_publishes_the_image_exposed_ports() {
    let w = World::with_busybox();
    let ctx = w.base().join("exposer");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nEXPOSE 8080\n").expect("write");
    w.whale_ok(&["build", "-q", "-t", "exposer", ctx.to_str().unwrap()]);
    let id = w.run_d(&[
        "--name", "all", "-P", "--expose", "7000", "exposer", "httpd", "-f", "-p", "8080", "-h",
        "/etc",
    ]);
    let c = w.inspect("all");
    assert_eq!(c["HostConfig"]["PublishAllPorts"], true);
    let host_port = |p: &str| -> u16 {
        c["NetworkSettings"]["Ports"][p][0]["HostPort"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{p} published: {c:#}"))
    };
    let (web, other) = (host_port("8080/tcp"), host_port("7000/tcp"));
    assert_eq!(
        c["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostIp"],
        "0.0.0.0"
    );
    assert!(
        web >= 1024 && other >= 1024 && web != other,
        "ephemeral: {web} {other}"
    );
    let page = get_when_up(web, "/hostname");
    assert_eq!(String::from_utf8_lossy(&page).trim(), short(&id));
    // Nobody listens on 7000 inside: the proxy accepts, then closes.
    let mut s = TcpStream::connect(("127.0.0.1", other)).expect("the proxy listens");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        s.read_to_end(&mut buf).map_err(|e| e.kind()).unwrap_or(0),
        0
    );
    let ports = w.whale_ok(&["port", "all"]);
    assert_eq!(
        ports.lines(),
        [
            format!("7000/tcp -> 0.0.0.0:{other}"),
            format!("8080/tcp -> 0.0.0.0:{web}")
        ],
        "{ports}"
    );
    w.whale_ok(&["stop", "-t", "1", "all"]);
    assert_refused(web);
    assert_refused(other);
}

#[test]
fn concurrent_connections_and_a_big_transfer_arrive_intact() {
    let w = World::with_busybox();
    let port = free_port();
    w.run_d(&[
        "--name",
        "files",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && httpd -f -p 8080 -h /www",
    ]);
    // 50 MB that no two offsets share a pattern in, copied in with `cp`.
    let mut big = vec![0u8; 50 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in big.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let file: PathBuf = w.base().join("big");
    std::fs::write(&file, &big).expect("write");
    w.whale_ok(&["cp", file.to_str().unwrap(), "files:/www/big"]);
    for i in 0..16 {
        w.whale_ok(&[
            "exec",
            "files",
            "sh",
            "-c",
            &format!("echo page-{i} > /www/p{i}"),
        ]);
    }
    get_when_up(port, "/p0");
    let got = get(port, "/big").expect("the big file");
    assert_eq!(got.len(), big.len(), "length of the transfer");
    assert!(got == big, "the 50 MB arrived intact");
    std::fs::remove_file(&file).ok();

    // 16 clients at once, each gets its own page.
    let threads: Vec<_> = (0..16)
        .map(|i| std::thread::spawn(move || (i, get(port, &format!("/p{i}")))))
        .collect();
    for t in threads {
        let (i, page) = t.join().expect("thread");
        let page = page.unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(String::from_utf8_lossy(&page).trim(), format!("page-{i}"));
    }
    // A connection held open does not stop others.
    let held = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    assert_eq!(
        get(port, "/p3").expect("beside a held connection"),
        b"page-3\n"
    );
    drop(held);
}

#[test]
fn what_whale_does_not_publish_is_refused_or_warned_about() {
    let w = World::with_busybox();
    let sctp = w.whale(&[
        "run",
        "--rm",
        "-p",
        "127.0.0.1:5353:53/sctp",
        "busybox",
        "true",
    ]);
    let sctp = sctp.expect_code(125);
    assert!(
        sctp.stderr.contains("does not publish sctp ports (53/sctp"),
        "{sctp}"
    );
    let range = w.whale(&[
        "run",
        "--rm",
        "-p",
        "127.0.0.1:8000-8010:80",
        "busybox",
        "true",
    ]);
    let range = range.expect_code(125);
    assert!(range.stderr.contains("host port range"), "{range}");
    let none = w.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "true",
    ]);
    let none = none.expect_code(125);
    assert!(none.stderr.contains("--network none"), "{none}");
    // The host's network: Docker's warning, and nothing published.
    let port = free_port();
    let host = w.whale(&[
        "run",
        "--name",
        "onhost",
        "--network",
        "host",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    let host = host.success();
    assert!(
        host.stderr
            .contains("WARNING: Published ports are discarded when using host network mode"),
        "{host}"
    );
}

/// dockerd at `WHALE_TEST_DOCKERD` or the default socket, if one answers a ping.
fn dockerd() -> Option<String> {
    let sock =
        std::env::var("WHALE_TEST_DOCKERD").unwrap_or_else(|_| "/var/run/docker.sock".to_string());
    let sock = sock.trim_start_matches("unix://").to_string();
    match whale_e2e::http_unix(std::path::Path::new(&sock), "GET", "/_ping", None) {
        Ok(r) if r.status == 200 => Some(format!("unix://{sock}")),
        other => {
            eprintln!(
                "SKIPPED: no dockerd answers on {sock}: {:?}",
                other.map(|r| r.status)
            );
            None
        }
    }
}

#[test]
fn the_docker_cli_publishes_through_whale_and_shows_what_dockerd_shows() {
    if docker_cli().is_none() {
        eprintln!("SKIPPED: no docker CLI");
        return;
    }
    let w = World::with_busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let run = w
        .docker(&[
            "run", "-d", "--name", "dweb", "-p", &publish, "busybox", "httpd", "-f", "-p", "8080",
            "-h", "/etc",
        ])
        .expect("docker")
        .success();
    let page = get_when_up(port, "/hostname");
    assert_eq!(String::from_utf8_lossy(&page).trim(), short(run.out()));
    let ports = w.docker(&["port", "dweb"]).expect("docker").success();
    assert_eq!(
        ports.out(),
        format!("8080/tcp -> 127.0.0.1:{port}"),
        "{ports}"
    );
    let ps = w
        .docker(&["ps", "--format", "{{.Ports}}"])
        .expect("docker")
        .success();
    assert_eq!(ps.out(), format!("127.0.0.1:{port}->8080/tcp"), "{ps}");
    // whale's PORTS column is docker's.
    let ours = w.whale_ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ours.out(), ps.out());
    let host = w
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "-p",
            "127.0.0.1:1:80",
            "busybox",
            "true",
        ])
        .expect("docker");
    let host = host.success();
    w.docker(&["stop", "-t", "1", "dweb"])
        .expect("docker")
        .success();
    assert_refused(port);

    // dockerd here has no bridge: with --network none it keeps the ports in
    // HostConfig and publishes nothing, so only the request's shape and the
    // host-network warning compare.
    let Some(daemon) = dockerd() else {
        return;
    };
    let name = format!("ports-br-{}", std::process::id());
    let theirs = |args: &[&str]| {
        let mut cmd = std::process::Command::new(docker_cli().unwrap());
        cmd.arg("-H").arg(&daemon).args(args);
        whale_e2e::run_command(cmd, None, Duration::from_secs(60))
    };
    let created = theirs(&[
        "create",
        "--name",
        &name,
        "--network",
        "none",
        "-p",
        &publish,
        "--expose",
        "7000",
        "busybox",
        "true",
    ]);
    if !created.ok() {
        eprintln!("SKIPPED: dockerd would not create the container: {created}");
        return;
    }
    let fmt = "{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}} {{json .NetworkSettings.Ports}}";
    let d = theirs(&["inspect", "-f", fmt, &name]);
    theirs(&["rm", "-f", &name]);
    w.docker(&[
        "create", "--name", "cmp", "-p", &publish, "--expose", "7000", "busybox", "true",
    ])
    .expect("docker")
    .success();
    let ours = w
        .docker(&["inspect", "-f", fmt, "cmp"])
        .expect("docker")
        .success();
    assert_eq!(ours.out(), d.out(), "whale: {ours}\ndockerd: {d}");
    let dhost = theirs(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "127.0.0.1:1:80",
        "busybox",
        "true",
    ]);
    let warning = |s: &str| {
        s.lines()
            .filter(|l| l.contains("WARNING"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        warning(&host.stderr),
        warning(&dhost.stderr),
        "whale: {host}\ndockerd: {dhost}"
    );
}

#[test]
fn published_ports_outlive_a_daemon_restart_and_are_re_adopted() {
    let w = World::with_busybox();
    let port = free_port();
    let id = w.run_d(&[
        "--name",
        "kept",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ]);
    get_when_up(port, "/hostname");
    let killed = w.kill_daemon();
    assert!(!w.ping(), "daemon {killed:?} should be dead");
    // The proxy belongs to the shim, not the daemon.
    let page = get(port, "/hostname").expect("served while no daemon runs");
    assert_eq!(String::from_utf8_lossy(&page).trim(), short(&id));
    // A new daemon reads the ports back from the shim's state.
    let ports = w.whale_ok(&["port", "kept"]);
    assert_eq!(
        ports.out(),
        format!("8080/tcp -> 127.0.0.1:{port}"),
        "{ports}"
    );
    w.whale_ok(&["stop", "-t", "1", "kept"]);
    assert_refused(port);
}

#[test]
fn the_proxy_dies_with_its_shim() {
    let w = World::with_busybox();
    let port = free_port();
    let id = w.run_d(&[
        "--name",
        "orphan",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    // Any answer will do: httpd has no index here.
    wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let state = w.root().join("containers").join(&id).join("state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state.json")).expect("json");
    let shim = state["shim_pid"].as_i64().expect("shim_pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the shim");
    let gone = wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port))
            .is_err()
            .then_some(())
    });
    assert!(
        gone.is_some(),
        "127.0.0.1:{port} still served after the shim died"
    );
    assert_refused(port);
    w.whale(&["rm", "-f", "orphan"]);
}
