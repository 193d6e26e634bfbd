//! Capabilities, `--privileged`, host namespaces and the small run options
//! (`--group-add`, `--ulimit`, `--add-host`, `--dns*`, `--shm-size`,
//! `--sysctl`): each shown by a probe inside a container, against the
//! default that the option changes (so every test fails without its
//! feature), and compared with a real dockerd when one answers.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use whale_e2e::{docker_cli, http_unix, run_command, Out, World};

/// Docker's default capability set, as CapEff shows it.
const DEFAULT_CAPS: &str = "00000000a80425fb";

/// A dockerd that answers `/_ping` (`WHALE_TEST_DOCKERD`, or the default
/// socket), with the docker CLI to drive it; None (after saying why) when
/// there is none, as in CI.
fn dockerd() -> Option<(PathBuf, PathBuf)> {
    let sock = std::env::var("WHALE_TEST_DOCKERD")
        .map(|s| PathBuf::from(s.trim_start_matches("unix://")))
        .unwrap_or_else(|_| PathBuf::from("/var/run/docker.sock"));
    let Some(cli) = docker_cli() else {
        eprintln!("SKIP dockerd comparison: no docker CLI on PATH");
        return None;
    };
    match http_unix(&sock, "GET", "/_ping", None) {
        Ok(r) if r.text().trim() == "OK" => Some((sock, cli)),
        Ok(r) => {
            eprintln!(
                "SKIP dockerd comparison: {} answered /_ping with {:?}",
                sock.display(),
                r.text()
            );
            None
        }
        Err(e) => {
            eprintln!(
                "SKIP dockerd comparison: no dockerd on {}: {e}",
                sock.display()
            );
            None
        }
    }
}

/// `docker run --rm --network none OPTS busybox sh -c SCRIPT` on dockerd,
/// under a name of this branch's own.
fn docker_run(d: &(PathBuf, PathBuf), opts: &[&str], script: &str) -> Out {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "privs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut cmd = Command::new(&d.1);
    cmd.env("DOCKER_HOST", format!("unix://{}", d.0.display()))
        .env_remove("DOCKER_CONTEXT")
        .args(["run", "--rm", "--network", "none", "--name", &name])
        .args(opts)
        .args(["busybox", "sh", "-c", script]);
    run_command(cmd, None, std::time::Duration::from_secs(60))
}

/// The same probe in whale, through whale's CLI.
fn whale_run(w: &World, opts: &[&str], script: &str) -> Out {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    w.whale(&args)
}

/// Run the probe in whale (it must succeed) and, where a dockerd answers,
/// in Docker too: the outputs must be the same.
#[track_caller]
fn same_as_docker(
    w: &World,
    d: &Option<(PathBuf, PathBuf)>,
    opts: &[&str],
    script: &str,
) -> String {
    let ours = whale_run(w, opts, script).success();
    if let Some(d) = d {
        let theirs = docker_run(d, opts, script);
        assert!(theirs.ok(), "dockerd failed {opts:?} {script:?}:\n{theirs}");
        assert_eq!(
            ours.stdout, theirs.stdout,
            "whale and dockerd differ for {opts:?} {script:?}"
        );
    }
    ours.stdout
}

fn status_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

#[test]
fn capabilities_follow_cap_add_and_cap_drop_in_run_and_exec() {
    let w = World::with_busybox();
    let d = dockerd();
    let probe = "grep -E '^Cap(Eff|Bnd)' /proc/self/status";
    let caps = |opts: &[&str]| status_field(&same_as_docker(&w, &d, opts, probe), "CapEff:");
    assert_eq!(caps(&[]), DEFAULT_CAPS);
    assert_eq!(caps(&["--cap-drop", "ALL"]), "0000000000000000");
    let with_admin = u64::from_str_radix(&caps(&["--cap-add", "SYS_ADMIN"]), 16).unwrap();
    assert_eq!(with_admin, 0xa80425fb | 1 << 21, "bit 21 is CAP_SYS_ADMIN");
    assert_eq!(
        caps(&["--cap-drop", "all", "--cap-add", "cap_net_admin"]),
        "0000000000001000"
    );
    assert_eq!(
        caps(&["--cap-drop", "chown", "--cap-drop", "CAP_KILL"]),
        "00000000a80425da"
    );
    // The bounding set follows too: nothing can be regained by exec'ing.
    let out = whale_run(&w, &["--cap-drop", "ALL"], probe).success();
    assert_eq!(status_field(&out.stdout, "CapBnd:"), "0000000000000000");

    // An exec runs with its container's capabilities, not Docker's default.
    w.run_d(&[
        "--name",
        "nocaps",
        "--cap-drop",
        "ALL",
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = w.whale_ok(&["exec", "nocaps", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(status_field(&out.stdout, "CapEff:"), "0000000000000000");
    w.whale_ok(&["rm", "-f", "nocaps"]);

    // Without CAP_CHOWN root cannot give a file away: the drop is real.
    let out = whale_run(&w, &["--cap-drop", "CHOWN"], "touch /f && chown 1 /f");
    assert_eq!(out.code(), Some(1), "{out}");

    // Docker's message for an unknown capability, through the stock CLI too.
    let out = w.whale(&["run", "--rm", "--cap-add", "FOO", "busybox", "true"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr
            .contains("invalid CapAdd: unknown capability: \"CAP_FOO\""),
        "{out}"
    );
    if let Some(out) = w.docker(&["run", "--rm", "--cap-drop", "bar", "busybox", "true"]) {
        assert_eq!(out.code(), Some(125), "{out}");
        assert!(
            out.stderr
                .contains("invalid CapDrop: unknown capability: \"CAP_BAR\""),
            "{out}"
        );
    }
}

#[test]
fn privileged_lifts_masks_seccomp_devices_and_capabilities() {
    let w = World::with_busybox();
    let probe = "grep -E '^(CapEff|Seccomp):' /proc/self/status; \
                 mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted; \
                 echo masked=$(mount | grep -c ' on /proc/'); \
                 mount | grep ' /sys ' | grep -o '(r[ow]'; \
                 ls /dev";
    let ours = whale_run(&w, &["--privileged"], probe).success().stdout;
    // Every capability whale holds itself (the test runs as the same root).
    let mine = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(
        status_field(&ours, "CapEff:"),
        status_field(&mine, "CapBnd:"),
        "{ours}"
    );
    assert_eq!(status_field(&ours, "Seccomp:"), "0", "{ours}");
    let lines: Vec<&str> = ours.lines().collect();
    assert!(lines.contains(&"mounted"), "{ours}");
    assert!(
        lines.contains(&"masked=0"),
        "nothing masked or read-only:\n{ours}"
    );
    assert!(lines.contains(&"(rw"), "/sys is writable:\n{ours}");
    // The host's device nodes (top level; runc skips the console).
    for e in std::fs::read_dir("/dev").unwrap().flatten() {
        use std::os::unix::fs::FileTypeExt;
        let ft = e.file_type().unwrap();
        let name = e.file_name().into_string().unwrap();
        if (ft.is_char_device() || ft.is_block_device()) && name != "console" {
            assert!(
                lines.contains(&name.as_str()),
                "/dev/{name} missing:\n{ours}"
            );
        }
    }
    // And the devices cgroup lets them be opened.
    if std::path::Path::new("/dev/kmsg").exists() {
        whale_run(&w, &["--privileged"], "head -c 1 /dev/kmsg >/dev/null").success();
        let out = whale_run(
            &w,
            &["--cap-add", "SYSLOG"],
            "mknod /dev/k c 1 11 && head -c 1 /dev/k",
        );
        assert!(!out.ok(), "the default devices cgroup denies it:\n{out}");
    }

    // The same probe without --privileged: Docker's confinement.
    let plain = whale_run(&w, &[], probe).success().stdout;
    assert_eq!(status_field(&plain, "CapEff:"), DEFAULT_CAPS);
    assert_eq!(status_field(&plain, "Seccomp:"), "2");
    let lines: Vec<&str> = plain.lines().collect();
    assert!(!lines.contains(&"mounted"), "{plain}");
    assert!(
        !lines.contains(&"masked=0"),
        "masked and read-only /proc paths:\n{plain}"
    );
    assert!(lines.contains(&"(ro"), "{plain}");

    if let Some(d) = dockerd() {
        let theirs = docker_run(&d, &["--privileged"], probe);
        if theirs.stderr.contains("unable to apply caps") {
            // dockerd asks for the kernel's whole list, which this host
            // does not hold (whale gives the ones it has).
            eprintln!(
                "SKIP dockerd --privileged comparison: dockerd cannot start it here:\n{theirs}"
            );
        } else {
            let theirs = theirs.success().stdout;
            assert_eq!(status_field(&theirs, "Seccomp:"), "0");
            assert!(theirs.lines().any(|l| l == "mounted"), "{theirs}");
        }
    }
}

#[test]
fn host_namespaces_are_shared_when_asked() {
    let w = World::with_busybox();
    let d = dockerd();
    let host_init = std::fs::read_to_string("/proc/1/comm").unwrap();
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();

    // `; true` keeps sh from exec'ing cat: sh stays PID 1.
    let comm = "cat /proc/1/comm; true";
    let out = same_as_docker(&w, &d, &["--pid", "host"], comm);
    assert_eq!(out, host_init);
    let own = whale_run(&w, &[], comm).success().stdout;
    assert_eq!(own, "sh\n", "a private PID namespace: the command is PID 1");

    let out = same_as_docker(&w, &d, &["--uts", "host"], "hostname");
    assert_eq!(out.trim(), host_name);
    let own = whale_run(&w, &[], "hostname").success().stdout;
    assert_ne!(own.trim(), host_name);
    // /etc/hostname keeps the container's own name, as in Docker.
    let out = whale_run(
        &w,
        &["--uts", "host", "--name", "utsname"],
        "cat /etc/hostname",
    )
    .success();
    assert_ne!(out.out(), host_name);

    let ipc = "readlink /proc/self/ns/ipc";
    let out = same_as_docker(&w, &d, &["--ipc", "host"], ipc);
    assert_eq!(out.trim(), host_ipc.to_str().unwrap());
    let own = whale_run(&w, &[], ipc).success().stdout;
    assert_ne!(own.trim(), host_ipc.to_str().unwrap());

    // The stock docker CLI sends the same fields.
    if let Some(out) = w.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pid",
        "host",
        "busybox",
        "cat",
        "/proc/1/comm",
    ]) {
        assert_eq!(out.success().stdout, host_init);
    }
}

#[test]
fn run_options_reach_the_container() {
    let w = World::with_busybox();
    let d = dockerd();
    let out = same_as_docker(
        &w,
        &d,
        &[
            "--user",
            "1000:1000",
            "--group-add",
            "4242",
            "--group-add",
            "10",
        ],
        "id -G",
    );
    // busybox's id prints them sorted.
    assert_eq!(out, "1000 10 4242\n");
    assert_eq!(
        whale_run(&w, &["--user", "1000:1000"], "id -G")
            .success()
            .stdout,
        "1000\n"
    );
    // Names come from the container's /etc/group.
    let gid = whale_run(&w, &[], "grep -E '^[a-z]+:' /etc/group | tail -1")
        .success()
        .stdout;
    let (name, rest) = gid.split_once(':').unwrap();
    let number = rest.split(':').nth(1).unwrap();
    let out = whale_run(&w, &["--user", "1000:1000", "--group-add", name], "id -G").success();
    assert_eq!(out.stdout, format!("1000 {number}\n"));
    let out = whale_run(&w, &["--group-add", "nosuchgroup"], "true");
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr
            .contains("Unable to find group nosuchgroup: no matching entries in group file"),
        "{out}"
    );

    let out = same_as_docker(
        &w,
        &d,
        &["--ulimit", "nofile=512:1024"],
        "ulimit -n; ulimit -Hn",
    );
    assert_eq!(out, "512\n1024\n");
    assert_ne!(whale_run(&w, &[], "ulimit -n").success().stdout, "512\n");

    let hosts = "grep -wE 'db|v6' /etc/hosts";
    let out = same_as_docker(
        &w,
        &d,
        &["--add-host", "db:127.0.0.2", "--add-host", "v6:::1"],
        hosts,
    );
    assert_eq!(out, "127.0.0.2\tdb\n::1\tv6\n");

    let out = same_as_docker(
        &w,
        &d,
        &[
            "--dns",
            "127.0.0.9",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
        ],
        "cat /etc/resolv.conf",
    );
    assert_eq!(
        out,
        "search example.com\nnameserver 127.0.0.9\noptions ndots:2\n"
    );

    let shm = "df -k /dev/shm | tail -1 | awk '{print $2}'";
    assert_eq!(same_as_docker(&w, &d, &["--shm-size", "8m"], shm), "8192\n");
    assert_eq!(same_as_docker(&w, &d, &[], shm), "65536\n");

    let sysctl = "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_unprivileged_port_start";
    let out = same_as_docker(
        &w,
        &d,
        &[
            "--sysctl",
            "kernel.shmmni=99",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=80",
        ],
        sysctl,
    );
    assert_eq!(out, "99\n80\n");
    assert_ne!(whale_run(&w, &[], sysctl).success().stdout, out);
    // The host's settings are untouched.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        "99\n"
    );
}

#[test]
fn a_device_is_created_and_allowed() {
    let Some(host) = ["/dev/fuse", "/dev/loop-control", "/dev/kmsg"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("SKIP --device: the host has none of fuse, loop-control, kmsg");
        return;
    };
    let w = World::with_busybox();
    let d = dockerd();
    let probe = "stat -c '%t:%T %a' /dev/dd; head -c 0 /dev/dd && echo opened";
    let mapped = format!("{host}:/dev/dd");
    let out = same_as_docker(&w, &d, &["--device", &mapped], probe);
    assert!(out.ends_with("opened\n"), "{out}");
    // Read-only in the devices cgroup: opening it for writing is denied.
    let ro = format!("{host}:/dev/dd:r");
    let out = whale_run(&w, &["--device", &ro], "echo -n > /dev/dd");
    assert!(
        !out.ok() && out.stderr.contains("Operation not permitted"),
        "{out}"
    );
    // Without --device the same node, made by hand, cannot be opened.
    let nums = out_nums(&w, &mapped);
    let out = whale_run(
        &w,
        &[],
        &format!("mknod /dev/dd c {nums} && head -c 0 /dev/dd && echo opened"),
    );
    assert!(!out.stdout.contains("opened"), "{out}");
    let out = w.whale(&["run", "--rm", "--device", "/dev/nope", "busybox", "true"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr.contains(
            "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
        ),
        "{out}"
    );
}

/// "MAJOR MINOR" (decimal) of the node `--device mapped` creates.
fn out_nums(w: &World, mapped: &str) -> String {
    let out = whale_run(w, &["--device", mapped], "stat -c '%t %T' /dev/dd").success();
    out.out()
        .split_whitespace()
        .map(|h| u64::from_str_radix(h, 16).unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn what_whale_cannot_do_is_refused_naming_it() {
    let w = World::with_busybox();
    let refused = |opts: &[&str], needle: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["busybox", "true"]);
        let out = w.whale(&args);
        assert_eq!(out.code(), Some(125), "{opts:?}: {out}");
        assert!(out.stderr.contains(needle), "{opts:?}: {out}");
    };
    refused(
        &["--pid", "container:other"],
        "--pid \"container:other\" is not supported",
    );
    refused(
        &["--ipc", "container:other"],
        "--ipc \"container:other\" is not supported",
    );
    refused(
        &["--add-host", "gw:host-gateway"],
        "host-gateway needs a bridge",
    );
    refused(
        &["--sysctl", "kernel.panic=1"],
        "not in a separate kernel namespace",
    );
    refused(
        &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
        "not allowed in host network namespace",
    );
    refused(
        &["--ipc", "host", "--sysctl", "kernel.shmmax=1"],
        "not allowed in host ipc namespace",
    );
    refused(&["--dns", "not-an-ip"], "not-an-ip is not an ip address");

    // API-only shapes: a 400 naming the field.
    let create = |hc: &str| {
        w.api(
            "POST",
            "/containers/create",
            Some(&format!(
                r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{hc}}}"#
            )),
        )
    };
    let r = create(r#"{"DeviceRequests":[{"Count":-1,"Capabilities":[["gpu"]]}]}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("whale has no GPU support"),
        "{}",
        r.text()
    );
    let r = create(r#"{"Sysctls":{"net/../../kernel/panic":"1"}}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = create(r#"{"Ulimits":[{"Name":"nofile","Soft":10,"Hard":5}]}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("10 > 5"), "{}", r.text());
}
