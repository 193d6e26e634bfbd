//! Isolation: the kernel lies to the container.

use whale_e2e::{is_hex, World};

#[test]
fn the_container_sees_only_itself() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; ls /sys/class/net; ps -o pid,comm",
    ]);
    let lines = out.lines();
    assert!(lines.len() >= 5, "{out}");
    assert_eq!(lines[0], "1", "the command is PID 1:\n{out}");
    assert!(
        is_hex(lines[1], 12),
        "hostname is the 12-hex short id:\n{out}"
    );
    assert_eq!(lines[2], "lo", "only loopback:\n{out}");
    assert!(
        lines[3].contains("PID") && lines[3].contains("COMMAND"),
        "{out}"
    );
    let procs: Vec<(u32, &str)> = lines[4..]
        .iter()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?))
        })
        .collect();
    assert_eq!(procs.len(), lines.len() - 4, "{out}");
    // The shell execs its last command, so PID 1 is sh or ps itself.
    assert!(
        procs.iter().any(|(pid, _)| *pid == 1),
        "the container's init is PID 1 in ps:\n{out}"
    );
    assert!(procs.len() <= 2, "only sh and ps:\n{out}");
    for (_, comm) in &procs {
        assert!(
            ["sh", "ps"].contains(comm),
            "a foreign process is visible:\n{out}"
        );
    }
}

#[test]
fn on_the_host_the_init_has_another_pid_and_namespaces() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "iso", "busybox", "sleep", "1000"]);
    let pid = w.pid_of("iso");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "sleep", "host /proc/{pid}/comm");
    let top = w.whale_ok(&["top", "iso"]);
    assert!(
        top.stdout.contains(&pid.to_string()),
        "top shows host PIDs:\n{top}"
    );
    for ns in ["mnt", "pid", "uts", "ipc", "net", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("own ns");
        let cont = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("container ns");
        assert_ne!(host, cont, "the container must have its own {ns} namespace");
    }
    let hostname = w.whale_ok(&["run", "--rm", "busybox", "hostname"]);
    assert_ne!(
        hostname.out(),
        &id[..12],
        "each container has its own hostname"
    );
    let others = w.whale_ok(&["run", "--rm", "busybox", "ps", "-o", "comm"]);
    assert!(
        !others.stdout.contains("sleep"),
        "another container's process is visible:\n{others}"
    );
    // Inside the sleeper's namespaces, the hostname is its short id.
    let uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).expect("uts ns");
    assert!(uts.to_string_lossy().starts_with("uts:"));
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let env = String::from_utf8_lossy(&env);
    assert!(
        env.contains(&format!("HOSTNAME={}", &id[..12])),
        "HOSTNAME env: {env:?}"
    );
}

#[test]
fn loopback_is_up_and_alone() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /sys/class/net/lo/flags; tail -n +3 /proc/net/dev | cut -d: -f1",
    ]);
    let lines = out.lines();
    let flags = u32::from_str_radix(lines[0].trim_start_matches("0x"), 16).unwrap_or(0);
    assert_eq!(flags & 1, 1, "lo must be up (IFF_UP):\n{out}");
    let ifaces: Vec<&str> = lines[1..].iter().map(|l| l.trim()).collect();
    assert_eq!(ifaces, ["lo"], "{out}");
}

#[test]
fn network_host_sees_host_interfaces() {
    let w = World::with_busybox();
    let host_dev = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    let mut host: Vec<String> = host_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect();
    host.sort();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        "tail -n +3 /proc/net/dev | cut -d: -f1",
    ]);
    let mut seen: Vec<String> = out.lines().iter().map(|l| l.trim().to_string()).collect();
    seen.sort();
    assert_eq!(
        seen, host,
        "--network host shares the host's interfaces:\n{out}"
    );
    assert!(host.len() > 1, "this host should have more than lo");
}

#[test]
fn minimal_dev_and_readonly_sys() {
    let w = World::with_busybox();
    let out = w.whale_ok(&["run", "--rm", "busybox", "ls", "/dev"]);
    let dev: Vec<&str> = out.lines();
    for want in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
    ] {
        assert!(dev.contains(&want), "/dev/{want} missing:\n{out}");
    }
    for host_only in ["vda", "sda", "mem", "kmsg"] {
        assert!(
            !dev.contains(&host_only),
            "/dev/{host_only} must not be in a container:\n{out}"
        );
    }
    let sys = w.whale(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mkdir /sys/whale-test",
    ]);
    assert!(!sys.ok(), "/sys must be read-only:\n{sys}");
    let sysrq = w.whale(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    assert!(
        !sysrq.ok(),
        "/proc/sysrq-trigger must be read-only:\n{sysrq}"
    );
    // Docker's masked paths (those this kernel has): files read empty, dirs list empty.
    for file in [
        "/proc/timer_list",
        "/proc/keys",
        "/proc/kcore",
        "/proc/sched_debug",
    ] {
        if !std::path::Path::new(file).exists() {
            continue;
        }
        let masked = w.whale_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("wc -c < {file}"),
        ]);
        assert_eq!(masked.out(), "0", "{file} must be masked:\n{masked}");
    }
    for dir in ["/proc/acpi", "/proc/scsi", "/sys/firmware"] {
        if !std::path::Path::new(dir).exists() {
            continue;
        }
        let masked = w.whale_ok(&["run", "--rm", "busybox", "ls", "-A", dir]);
        assert_eq!(masked.out(), "", "{dir} must be masked:\n{masked}");
    }
    let w2 = w.whale_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo ok > /dev/null && head -c 4 /dev/zero | wc -c",
    ]);
    assert_eq!(w2.out(), "4", "{w2}");
}

#[test]
fn docker_default_capabilities_and_no_new_privs() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "-E",
        "^(CapEff|CapBnd|NoNewPrivs)",
        "/proc/self/status",
    ]);
    // Docker's default set: chown dac_override fowner fsetid kill setgid
    // setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap.
    assert!(out.stdout.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.stdout.contains("CapBnd:\t00000000a80425fb"), "{out}");
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{out}");
    let denied = w.whale(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mount -t tmpfs none /mnt",
    ]);
    assert!(
        !denied.ok(),
        "mount needs CAP_SYS_ADMIN, which a container lacks:\n{denied}"
    );
}

#[test]
fn the_host_filesystem_is_gone() {
    let w = World::with_busybox();
    let out = w.whale_ok(&["run", "--rm", "busybox", "cat", "/proc/self/mountinfo"]);
    let base = w.base().to_string_lossy().into_owned();
    for line in out.lines() {
        let mount_point = line.split(' ').nth(4).unwrap_or("");
        assert!(
            !mount_point.starts_with(&base)
                && !mount_point.starts_with("/work")
                && !mount_point.contains("old"),
            "a host mount point is visible in the container: {line}\n{out}"
        );
    }
    let root = out
        .lines()
        .into_iter()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / mount:\n{out}"));
    assert!(root.contains(" - overlay "), "/ is an overlay:\n{root}");
    let ls = w.whale(&["run", "--rm", "busybox", "ls", &base]);
    assert!(!ls.ok(), "the host's dirs must not be reachable:\n{ls}");
}
