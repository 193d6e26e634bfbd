//! Bind mounts, volumes, tmpfs and `--read-only`, through the whale CLI and
//! through the stock docker CLI pointed at whale's socket; compared with a
//! real dockerd where one answers.

use std::path::{Path, PathBuf};
use whale_e2e::{docker_cli, http_unix, World};

/// The dockerd to compare with: `WHALE_TEST_DOCKERD` or the default
/// socket, when it answers a ping (a socket file alone proves nothing).
fn dockerd() -> Option<String> {
    let sock = std::env::var("WHALE_TEST_DOCKERD")
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
    let path = sock.strip_prefix("unix://").unwrap_or(&sock).to_string();
    match http_unix(Path::new(&path), "GET", "/_ping", None) {
        Ok(r) if r.text().trim() == "OK" => Some(format!("unix://{path}")),
        _ => {
            eprintln!("SKIPPED the dockerd comparison: no dockerd answers a ping on {sock}");
            None
        }
    }
}

/// `docker -H HOST ARGS`, exit code and output, for the real dockerd.
fn real_docker(host: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(docker_cli().expect("docker CLI"))
        .arg("-H")
        .arg(host)
        .args(args)
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("running docker");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn skip_without_docker_cli() -> bool {
    if docker_cli().is_none() {
        eprintln!("SKIPPED: no docker CLI (apt-get install docker.io)");
        return true;
    }
    false
}

/// A host dir for binds, inside the world's own temp dir.
fn host_dir(w: &World, name: &str) -> PathBuf {
    let d = w.base().join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// The acceptance list, run through one CLI (`whale` or `docker`).
fn acceptance(w: &World, cli: &dyn Fn(&[&str]) -> whale_e2e::Out, tag: &str) {
    let host = host_dir(w, &format!("bind-{tag}"));
    std::fs::write(host.join("from-host"), "hello from the host\n").unwrap();
    let bind = format!("{}:/mnt/h", host.display());
    // A bind mount shows host files and writes to them.
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "cat /mnt/h/from-host && echo written > /mnt/h/from-ctr",
    ]);
    assert!(out.ok(), "{out}");
    assert_eq!(out.out(), "hello from the host", "{out}");
    assert_eq!(
        std::fs::read_to_string(host.join("from-ctr")).unwrap(),
        "written\n"
    );
    // `:ro` refuses writes.
    let ro = format!("{bind}:ro");
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "cat /mnt/h/from-host; echo x > /mnt/h/nope",
    ]);
    assert!(!out.ok(), "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert!(!host.join("nope").exists());
    // --mount type=bind, readonly.
    let m = format!("type=bind,source={},target=/m,readonly", host.display());
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        &m,
        "busybox",
        "sh",
        "-c",
        "cat /m/from-host; touch /m/nope",
    ]);
    assert!(!out.ok() && out.stdout.contains("hello"), "{out}");
    // A named volume keeps data between containers.
    let vol = format!("whale-e2e-{tag}");
    let v = format!("{vol}:/data");
    cli(&[
        "run",
        "--network",
        "none",
        "--name",
        &format!("writer-{tag}"),
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ])
    .success();
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &v,
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out.out(), "kept", "{out}");
    // A volume in use cannot be removed (the stopped writer holds it).
    let out = cli(&["volume", "rm", &vol]);
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr
            .contains(&format!("remove {vol}: volume is in use")),
        "{out}"
    );
    cli(&["rm", &format!("writer-{tag}")]).success();
    cli(&["volume", "rm", &vol]).success();
    // --tmpfs is a tmpfs, with its options.
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tmpfs",
        "/scratch:size=1m,mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
    ]);
    assert!(out.ok(), "{out}");
    assert!(
        out.stdout
            .contains("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(out.stdout.contains("size=1024k"), "{out}");
    assert!(out.stdout.trim_end().ends_with("1770"), "{out}");
    // --read-only refuses writes to the root; /dev/shm stays writable and
    // the engine's /etc files become read-only, as in Docker.
    let out = cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/x; echo $?; touch /dev/shm/x; echo $?; echo 1.2.3.4 h >> /etc/hosts; echo $?",
    ]);
    assert_eq!(out.lines(), ["1", "0", "1"], "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
}

#[test]
fn acceptance_through_the_whale_cli() {
    let w = World::with_busybox();
    acceptance(&w, &|a| w.whale(a), "whale");
    w.assert_no_host_mounts();
}

#[test]
fn acceptance_through_the_docker_cli() {
    if skip_without_docker_cli() {
        return;
    }
    let w = World::with_busybox();
    acceptance(&w, &|a| w.docker(a).expect("docker"), "docker");
    w.assert_no_host_mounts();
}

#[test]
fn volumes_api_shapes_and_errors() {
    let w = World::with_busybox();
    let r = w.api(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"whale-shape","Labels":{"k":"v"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["Name"], "whale-shape");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["k"], "v");
    let mp = v["Mountpoint"].as_str().unwrap();
    assert_eq!(
        Path::new(mp),
        w.root().join("volumes/whale-shape/_data"),
        "data under the daemon's root"
    );
    // Only the local driver, and no options.
    let r = w.api(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"x1","Driver":"nfs"}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("nfs"), "{}", r.text());
    let r = w.api(
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"x2","DriverOpts":{"type":"nfs"}}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Names follow Docker's rule: no path tricks.
    for bad in ["../../etc", "a/b", ".hidden"] {
        let body = format!(r#"{{"Name":"{bad}"}}"#);
        let r = w.api("POST", "/volumes/create", Some(&body));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(
            r.text().contains("includes invalid characters"),
            "{}",
            r.text()
        );
    }
    assert_eq!(w.api("GET", "/volumes/nosuch", None).status, 404);
    // Filters.
    let names = |q: &str| -> Vec<String> {
        let r = w.api("GET", &format!("/volumes{q}"), None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Name"].as_str().unwrap().to_string())
            .collect()
    };
    w.whale_ok(&[
        "create",
        "--name",
        "user",
        "-v",
        "whale-used:/u",
        "busybox",
        "true",
    ]);
    assert!(names("").contains(&"whale-used".to_string()));
    let q = |f: &str| format!("?filters={}", urlencode(f));
    assert_eq!(names(&q(r#"{"dangling":["true"]}"#)), ["whale-shape"]);
    assert_eq!(names(&q(r#"{"dangling":["false"]}"#)), ["whale-used"]);
    assert_eq!(names(&q(r#"{"label":["k=v"]}"#)), ["whale-shape"]);
    assert_eq!(names(&q(r#"{"name":["used"]}"#)), ["whale-used"]);
    // ps --filter volume=, and inspect's Mounts as Docker shows them.
    let ps = w.whale_ok(&[
        "ps",
        "-a",
        "--filter",
        "volume=whale-used",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.out(), "user", "{ps}");
    let m = &w.inspect("user")["Mounts"][0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Name"], "whale-used");
    assert_eq!(m["Destination"], "/u");
    assert_eq!(m["Driver"], "local");
    assert_eq!(m["RW"], true);
    // In use: 409 with Docker's message.
    let r = w.api("DELETE", "/volumes/whale-used", None);
    assert_eq!(r.status, 409, "{}", r.text());
    w.whale_ok(&["rm", "user"]);
    assert_eq!(w.api("DELETE", "/volumes/whale-used", None).status, 204);
    assert_eq!(w.api("DELETE", "/volumes/whale-shape", None).status, 204);
    assert!(!w.root().join("volumes/whale-shape").exists());
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn anonymous_volumes_copy_up_and_go_with_rm_v() {
    let w = World::with_busybox();
    // A new volume over a dir the image has: filled from the image.
    let out = w.whale(&[
        "run",
        "--name",
        "anon",
        "--network",
        "none",
        "-v",
        "/bin",
        "busybox",
        "ls",
        "/bin/busybox",
    ]);
    assert_eq!(out.out(), "/bin/busybox", "{out}");
    let name = w.inspect("anon")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(name.len(), 64, "an anonymous volume has a 64-hex name");
    assert!(w
        .root()
        .join("volumes")
        .join(&name)
        .join("_data/busybox")
        .exists());
    w.whale_ok(&["rm", "-v", "anon"]);
    assert!(
        !w.root().join("volumes").join(&name).exists(),
        "rm -v removes it"
    );
    // A named volume survives rm -v.
    w.whale_ok(&[
        "run",
        "--name",
        "named",
        "-v",
        "whale-keep:/k",
        "busybox",
        "true",
    ]);
    w.whale_ok(&["rm", "-v", "named"]);
    w.whale_ok(&["volume", "inspect", "whale-keep"]);
    w.whale_ok(&["volume", "rm", "whale-keep"]);
    // A create that fails (the name is taken) leaves no anonymous volume.
    w.whale_ok(&["create", "--name", "taken", "busybox", "true"]);
    let out = w.whale(&[
        "create", "--name", "taken", "-v", "/anon", "busybox", "true",
    ]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert_eq!(
        w.whale_ok(&["volume", "ls", "-q"]).out(),
        "",
        "no volume left"
    );
}

#[test]
fn refusals_name_the_option() {
    let w = World::with_busybox();
    let host = host_dir(&w, "refuse");
    let missing = w.base().join("no-such-dir");
    let m = format!("type=bind,source={},target=/x", missing.display());
    let out = w.whale(&["create", "--mount", &m, "busybox"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            missing.display()
        )),
        "{out}"
    );
    // -v creates a missing host dir, as Docker.
    let made = w.base().join("made-by-v");
    w.whale_ok(&["create", "-v", &format!("{}:/x", made.display()), "busybox"]);
    assert!(made.is_dir());
    for (flag, val, needle) in [
        ("-v", format!("{}:/x:rshared", host.display()), "rshared"),
        ("-v", format!("{}:/x:Z", host.display()), "\"Z\""),
        (
            "--mount",
            format!(
                "type=bind,source={},target=/x,bind-propagation=shared",
                host.display()
            ),
            "bind-propagation",
        ),
        ("--tmpfs", "/t:huge=always".to_string(), "huge=always"),
        (
            "--mount",
            "type=volume,source=v1,target=/x,volume-driver=nfs".to_string(),
            "nfs",
        ),
    ] {
        let out = w.whale(&["create", flag, &val, "busybox"]);
        assert_eq!(out.code(), Some(125), "{flag} {val}: {out}");
        assert!(out.stderr.contains(needle), "{flag} {val}: {out}");
    }
}

/// A hostile image whose mount targets are symlinks to `/` and `/etc`:
/// the mounts land inside the container, never on the host's paths.
#[test]
fn symlinked_targets_stay_inside_the_container() {
    let w = World::with_busybox();
    let ctx = host_dir(&w, "hostile");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN ln -s / /toroot && ln -s /etc /toetc\n",
    )
    .unwrap();
    w.whale_ok(&["build", "-q", "-t", "whale-hostile", ctx.to_str().unwrap()]);
    let host = host_dir(&w, "hostile-src");
    std::fs::write(host.join("marker"), "m\n").unwrap();
    let out = w.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{}:/toetc/sub", host.display()),
        "--tmpfs",
        "/toroot/tmpfs-here",
        "whale-hostile",
        "sh",
        "-c",
        "cat /etc/sub/marker && grep -c ' /tmpfs-here ' /proc/mounts",
    ]);
    assert_eq!(out.lines(), ["m", "1"], "{out}");
    assert!(
        !Path::new("/etc/sub").exists(),
        "nothing made on the host's /etc"
    );
    assert!(
        !Path::new("/tmpfs-here").exists(),
        "nothing made on the host's /"
    );
    // Other engines mount on this host meanwhile: look for ours only.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(" /tmpfs-here ") && !mounts.contains(" /etc/sub "),
        "a mount landed on the host: {mounts}"
    );
    w.assert_no_host_mounts();
}

/// What stays writable under `--read-only`, and the Mounts of a bind, as
/// the real dockerd does it.
#[test]
fn matches_dockerd() {
    if skip_without_docker_cli() {
        return;
    }
    let Some(real) = dockerd() else { return };
    let w = World::with_busybox();
    let script =
        "for p in / /tmp /run /dev /dev/shm /etc/hosts /etc/hostname /etc/resolv.conf; do \
                  if [ -d $p ]; then f=$p/.w; else f=$p; fi; \
                  if (echo >> $f) 2>/dev/null; then echo $p rw; else echo $p ro; fi; done";
    let name = "mounts-cmp-readonly";
    let (code, theirs, err) = real_docker(
        &real,
        &[
            "run",
            "--rm",
            "--name",
            name,
            "--network",
            "none",
            "--read-only",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let ours = w
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .expect("docker")
        .success();
    assert_eq!(ours.stdout, theirs, "whale vs dockerd under --read-only");
    // Mounts of a bind and a named volume.
    let host = host_dir(&w, "cmp");
    let vol = "mounts-cmp-vol";
    let args = |c: &str| {
        vec![
            "create".to_string(),
            "--name".into(),
            c.to_string(),
            "--network".into(),
            "none".into(),
            "-v".into(),
            format!("{}:/h:ro", host.display()),
            "-v".into(),
            format!("{vol}:/v"),
            "busybox".into(),
            "true".into(),
        ]
    };
    let a: Vec<String> = args("mounts-cmp");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, _, err) = real_docker(&real, &a);
    assert_eq!(code, 0, "{err}");
    let (_, theirs, _) = real_docker(&real, &["inspect", "-f", "{{json .Mounts}}", "mounts-cmp"]);
    real_docker(&real, &["rm", "mounts-cmp"]);
    real_docker(&real, &["volume", "rm", vol]);
    w.docker(&a).expect("docker").success();
    let ours = w
        .docker(&["inspect", "-f", "{{json .Mounts}}", "mounts-cmp"])
        .expect("docker")
        .success();
    let norm = |s: &str| -> Vec<serde_json::Value> {
        let mut v: Vec<serde_json::Value> = serde_json::from_str(s.trim()).expect("json");
        for m in &mut v {
            m["Source"] = m["Source"]
                .as_str()
                .map(|s| if s.ends_with("/_data") { "<volume>" } else { s })
                .into();
        }
        v.sort_by_key(|m| m["Destination"].to_string());
        v
    };
    assert_eq!(norm(&ours.stdout), norm(&theirs), "whale vs dockerd Mounts");
}
