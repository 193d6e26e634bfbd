//! Rootless whale, end to end: a normal user made for the test (with
//! subordinate ids) runs the whale binary from a dir it can read, with its
//! own HOME and XDG_RUNTIME_DIR, and gets real containers in a user
//! namespace. Everything the user started is killed and the user, its ids
//! and its dirs removed, even when an assertion fails.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use whale_e2e::{run_command, whale_bin, Out};

const TIMEOUT: Duration = Duration::from_secs(120);

/// A throwaway normal user with subordinate ids, and its world.
struct RootlessUser {
    name: String,
    uid: u32,
    /// Holds the copied binary (readable by the user), its HOME and its
    /// runtime dir; removed on drop.
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl RootlessUser {
    /// None (the test says why and passes) when this is not root or the
    /// tools to make a user are missing.
    fn create() -> Option<RootlessUser> {
        Self::create_with(true)
    }

    /// With `subordinate_ids` false, the user has none (useradd's own
    /// grant taken back): rootless whale's single-id map.
    fn create_with(subordinate_ids: bool) -> Option<RootlessUser> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: making a test user needs root");
            return None;
        }
        for tool in [
            "/usr/sbin/useradd",
            "/usr/bin/newuidmap",
            "/usr/sbin/runuser",
        ] {
            if !Path::new(tool).exists() {
                eprintln!("skipped: {tool} is missing (apt-get install passwd uidmap util-linux)");
                return None;
            }
        }
        static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("whrl{}x{serial}", std::process::id() % 1_000_000);
        let dir = tempfile::Builder::new()
            .prefix("whale-rootless-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.path().join("home");
        let status = Command::new("useradd")
            .args(["--no-create-home", "--home-dir"])
            .arg(&home)
            .args(["--shell", "/bin/sh", &name])
            .status()
            .expect("useradd");
        assert!(status.success(), "useradd {name} failed: {status}");
        let uid = nix::unistd::User::from_name(&name)
            .unwrap()
            .expect("the user just made")
            .uid
            .as_raw();
        // From here on Drop removes the user, whatever fails.
        let bin = dir.path().join("bin/whale");
        let user = RootlessUser {
            name,
            uid,
            dir,
            bin,
        };
        if subordinate_ids {
            user.grant_subordinate_ids();
        } else {
            user.take_subordinate_ids();
        }
        std::fs::create_dir_all(user.bin.parent().unwrap()).unwrap();
        std::fs::copy(whale_bin(), &user.bin).expect("copying the whale binary");
        std::fs::set_permissions(&user.bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        for d in [user.home(), user.runtime_dir(), user.out_dir()] {
            std::fs::create_dir_all(&d).unwrap();
            nix::unistd::chown(&d, Some(uid.into()), None).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::set_permissions(user.out_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(user)
    }

    /// Debian's useradd grants a range itself (SUB_UID_COUNT); when it did
    /// not, one is added past every range granted so far, through usermod
    /// (which locks /etc/subuid against other writers).
    fn grant_subordinate_ids(&self) {
        let has = |file: &str| {
            std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with(&format!("{}:", self.name)))
        };
        if has("/etc/subuid") && has("/etc/subgid") {
            return;
        }
        let end = ["/etc/subuid", "/etc/subgid"]
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
                    })
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(100_000)
            .max(100_000);
        let range = format!("{end}-{}", end + 65_535);
        let status = Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range, &self.name])
            .status()
            .expect("usermod");
        assert!(status.success(), "usermod --add-subuids {range} failed");
    }

    fn take_subordinate_ids(&self) {
        let _ = Command::new("usermod")
            .args([
                "--del-subuids",
                "1-4294967294",
                "--del-subgids",
                "1-4294967294",
                &self.name,
            ])
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }
    /// Where the user writes files the test reads (cp, save).
    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    /// The default store of a rootless whale for this user.
    fn store(&self) -> PathBuf {
        self.home().join(".local/share/whale")
    }

    /// `whale ARGS` as the user, with a clean environment of its own.
    fn whale(&self, args: &[&str]) -> Out {
        self.whale_in_session(true, args)
    }

    /// `whale ARGS` as the user; without `runtime_dir` as from a login with
    /// no XDG_RUNTIME_DIR (no systemd session).
    fn whale_in_session(&self, runtime_dir: bool, args: &[&str]) -> Out {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home().display()))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        if runtime_dir {
            cmd.arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir().display()));
        }
        cmd.arg(&self.bin).args(args).current_dir(self.dir.path());
        run_command(cmd, None, TIMEOUT)
    }

    fn whale_ok(&self, args: &[&str]) -> Out {
        self.whale(args).success()
    }

    /// The user's processes, by pid.
    fn pids(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        let line = s.lines().find(|l| l.starts_with("Uid:"))?;
                        // Real uid: every process of the user, whatever its euid.
                        line.split_whitespace().nth(1)?.parse::<u32>().ok()
                    })
                    == Some(self.uid)
            })
            .collect()
    }

    /// The daemon: the user's `whale daemon`, not the namespace holder
    /// (same command line, named `whale-userns`).
    fn daemon_pid(&self) -> Option<i32> {
        self.pids().into_iter().find(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            comm.trim() == "whale" && cmdline.split(|b| *b == 0).any(|a| a == b"daemon")
        })
    }

    /// Kill every process of the user until none is left (a shim may fork
    /// while we look).
    fn kill_all(&self) {
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RootlessUser {
    fn drop(&mut self) {
        self.kill_all();
        // Before userdel: usermod needs the user to name it (Debian's
        // userdel removes the ranges too; this holds where it does not).
        self.take_subordinate_ids();
        let _ = Command::new("userdel").arg(&self.name).status();
        // The store holds files of subordinate ids the user could not
        // remove; we are root. TempDir removes the rest.
        let _ = std::fs::remove_dir_all(self.home());
    }
}

/// (path, size, mode, uid, mtime) of everything under `dir`, sorted.
fn tree_snapshot(dir: &Path) -> Vec<(PathBuf, u64, u32, u32, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, m.size(), m.mode(), m.uid(), m.mtime()));
        }
    }
    out.sort();
    out
}

/// The first line: root inside, the command PID 1, only `lo`.
fn root_pid1_and_loopback_only(user: &RootlessUser) {
    let script = "id -u; echo $$; ls /sys/class/net";
    let out = user.whale_ok(&["run", "--rm", "busybox", "sh", "-c", script]);
    assert_eq!(lines(&out), ["0", "1", "lo"], "{out:?}");
}

fn lines(out: &Out) -> Vec<String> {
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_normal_user_runs_builds_and_keeps_containers_in_a_user_namespace() {
    let Some(user) = RootlessUser::create() else {
        return;
    };

    user.whale_ok(&["bootstrap", "busybox"]);
    let store = user.store();
    assert!(
        store.join("image").is_dir(),
        "the store is under XDG_DATA_HOME's default"
    );
    assert!(
        user.runtime_dir().join("whale/whale.sock").exists(),
        "the socket is under XDG_RUNTIME_DIR"
    );

    // The mode and the map, as `info` tells them.
    let info = user.whale_ok(&["info"]);
    assert!(info.stdout.contains("  rootless"), "{info:?}");
    assert!(
        info.stdout
            .contains(&format!("Uidmap: 0:{}:1 1:", user.uid)),
        "{info:?}"
    );

    // Root inside, PID 1, only loopback.
    root_pid1_and_loopback_only(&user);

    // run -d, ps, exec.
    let id = user.whale_ok(&["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    let id = id.stdout.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ps = user.whale_ok(&["ps"]);
    assert!(
        ps.stdout.contains("keep") && ps.stdout.contains("Up"),
        "{ps:?}"
    );
    let out = user.whale_ok(&["exec", "keep", "cat", "/etc/hostname"]);
    assert_eq!(out.stdout.trim(), &id[..12]);

    // Without a cgroup, stats and top count the processes of its PID namespace.
    user.whale_ok(&["exec", "-d", "keep", "sleep", "1000"]);
    let out = user.whale_ok(&["stats", "--no-stream", "keep"]);
    let pids = out
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().last());
    assert_eq!(pids, Some("2"), "{out:?}");
    let out = user.whale_ok(&["top", "keep"]);
    assert_eq!(out.stdout.matches("sleep 1000").count(), 2, "{out:?}");

    // Writes land in the container's own layer, never in the image.
    let layers = store.join("image");
    let before = tree_snapshot(&layers);
    assert!(!before.is_empty());
    user.whale_ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo mine > /new-file && echo changed >> /etc/passwd && rm /bin/ls",
    ]);
    let out = user
        .whale_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat /new-file 2>&1; grep -c changed /etc/passwd; ls /bin/ls",
        ])
        .stdout;
    assert!(out.contains("No such file"), "{out}");
    assert!(out.lines().any(|l| l == "0"), "{out}");
    assert!(out.contains("/bin/ls"), "{out}");
    assert_eq!(tree_snapshot(&layers), before, "the image's layers changed");

    // Limits without a delegated cgroup: refused, with why and how.
    let out = user.whale(&["run", "--rm", "--memory", "32m", "busybox", "true"]);
    if user_has_delegation() {
        eprintln!("this host delegates cgroup v2 to users: --memory is honoured, not refused");
    } else {
        assert_eq!(out.code(), Some(125), "{out:?}");
        assert!(out.stderr.contains("--memory refused"), "{out:?}");
        assert!(out.stderr.contains("rootless"), "{out:?}");
        assert!(out.stderr.contains("Delegate=yes"), "{out:?}");
    }

    // What a user namespace may not mount or make is bound from the host:
    // a --device node, --privileged's devices, --pid host's /proc.
    let out = user.whale_ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/myzero",
        "busybox",
        "sh",
        "-c",
        "head -c 3 /dev/myzero | od -An -tx1",
    ]);
    assert_eq!(out.stdout.trim(), "00 00 00", "{out:?}");
    let out = user.whale_ok(&["run", "--rm", "--privileged", "busybox", "ls", "/dev"]);
    assert!(out.stdout.lines().count() > 15, "{out:?}");
    let out = user.whale_ok(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "busybox",
        "cat",
        "/proc/1/comm",
    ]);
    assert_ne!(
        out.stdout.trim(),
        "cat",
        "--pid host shows the host's PID 1"
    );

    // A host port below 1024 is refused with the reason; a high one works.
    let out = user.whale(&["run", "--rm", "-p", "80:80", "busybox", "true"]);
    assert_eq!(out.code(), Some(125), "{out:?}");
    assert!(out.stderr.contains("below 1024"), "{out:?}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let publish = format!("127.0.0.1:{port}:8080");
    user.whale_ok(&[
        "run", "-d", "--name", "web", "-p", &publish, "busybox", "httpd", "-f", "-p", "8080",
    ]);
    let reached = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok()
    });
    assert!(reached, "the published port {port} answers");
    user.whale_ok(&["rm", "-f", "web"]);

    // cp both ways.
    let src = user.out_dir().join("in.txt");
    std::fs::write(&src, "copied in\n").unwrap();
    user.whale_ok(&["cp", src.to_str().unwrap(), "keep:/in.txt"]);
    let out = user.whale_ok(&["exec", "keep", "cat", "/in.txt"]);
    assert_eq!(out.stdout, "copied in\n");
    let back = user.out_dir().join("back.txt");
    user.whale_ok(&["cp", "keep:/in.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");

    // logs.
    user.whale_ok(&[
        "run",
        "--name",
        "talker",
        "busybox",
        "echo",
        "hello from rootless",
    ]);
    let out = user.whale_ok(&["logs", "talker"]);
    assert_eq!(out.stdout.trim(), "hello from rootless");

    // A build with a RUN step that gives a file to a subordinate id.
    let ctx = user.out_dir().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo built > /built && chown 1000:1000 /built\nCMD [\"cat\", \"/built\"]\n",
    )
    .unwrap();
    user.whale_ok(&["build", "-t", "rootless-built", ctx.to_str().unwrap()]);
    let out = user.whale_ok(&["run", "--rm", "rootless-built"]);
    assert_eq!(out.stdout.trim(), "built");
    let out = user.whale_ok(&[
        "run",
        "--rm",
        "rootless-built",
        "stat",
        "-c",
        "%u",
        "/built",
    ]);
    assert_eq!(out.stdout.trim(), "1000", "a subordinate id inside");

    // save and load.
    let archive = user.out_dir().join("built.tar");
    user.whale_ok(&["save", "-o", archive.to_str().unwrap(), "rootless-built"]);
    user.whale_ok(&["rmi", "rootless-built"]);
    user.whale_ok(&["load", "-i", archive.to_str().unwrap()]);
    let out = user.whale_ok(&["run", "--rm", "rootless-built"]);
    assert_eq!(out.stdout.trim(), "built");

    // The daemon killed: the container lives on, and the next daemon (started
    // by the next command) joins its namespaces and adopts it.
    let daemon = user.daemon_pid().expect("the user's daemon runs");
    let state = store.join("containers").join(&id).join("state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state.json")).expect("json");
    let shim = state["shim_pid"].as_i64().expect("shim_pid") as i32;
    let init = state["pid"].as_i64().expect("pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists();
    assert!(
        !alive(daemon)
            || std::fs::read_to_string(format!("/proc/{daemon}/stat"))
                .unwrap_or_default()
                .contains(" Z ")
    );
    assert!(
        alive(shim) && alive(init),
        "the shim and the container outlive the daemon"
    );
    let ps = user.whale_ok(&["ps"]);
    assert!(
        ps.stdout.contains("keep") && ps.stdout.contains("Up"),
        "{ps:?}"
    );
    assert_ne!(user.daemon_pid(), Some(daemon));
    let out = user.whale_ok(&["exec", "keep", "echo", "adopted"]);
    assert_eq!(out.stdout.trim(), "adopted");
    let log = std::fs::read_to_string(store.join("daemon.log")).unwrap_or_default();
    assert!(log.contains("joined the user namespace"), "{log}");

    // rm -f of the adopted container.
    user.whale_ok(&["rm", "-f", "keep", "writer", "talker"]);
    let ps = user.whale_ok(&["ps", "-a"]);
    assert!(!ps.stdout.contains("keep"), "{ps:?}");

    drop(user);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.lines().any(|l| l.contains("whale-rootless-")),
        "mounts left: {mounts}"
    );
}

/// Whether the host has cgroup v2 at all (this machine's v1 never delegates).
fn user_has_delegation() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type().0 == 0x6367_7270)
        .unwrap_or(false)
}

#[test]
fn the_private_socket_dir_is_made_closed_and_refused_when_open() {
    let Some(user) = RootlessUser::create() else {
        return;
    };
    // No XDG_RUNTIME_DIR: /tmp/whale-UID, made 0700 by the user.
    let sock_dir = PathBuf::from(format!("/tmp/whale-{}", user.uid));
    let _ = std::fs::remove_dir_all(&sock_dir);
    let run = |args: &[&str]| user.whale_in_session(false, args);
    run(&["info"]).success();
    let meta = std::fs::symlink_metadata(&sock_dir).unwrap();
    assert_eq!(meta.uid(), user.uid);
    assert_eq!(meta.mode() & 0o777, 0o700);
    assert!(sock_dir.join("whale.sock").exists());
    user.kill_all();
    // Opened to others (as someone else could have made it): refused.
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&["info"]);
    assert!(!out.ok(), "{out:?}");
    assert!(
        out.stderr.contains("refusing") && out.stderr.contains("0777"),
        "{out:?}"
    );
    user.kill_all();
    let _ = std::fs::remove_dir_all(&sock_dir);
}

#[test]
fn without_subordinate_ids_a_single_id_map_runs_root_only_and_says_so() {
    let Some(user) = RootlessUser::create_with(false) else {
        return;
    };
    user.whale_ok(&["bootstrap", "busybox"]);
    root_pid1_and_loopback_only(&user);
    let info = user.whale_ok(&["info"]);
    assert!(
        info.stdout.contains(&format!("Uidmap: 0:{}:1\n", user.uid)),
        "{info:?}"
    );
    assert!(info.stderr.contains("no subordinate ids"), "{info:?}");
    // Another user inside cannot exist: refused with the note, not a bare errno.
    let out = user.whale(&["run", "--rm", "-u", "1000", "busybox", "id"]);
    assert!(!out.ok(), "{out:?}");
    assert!(out.stderr.contains("single-id map"), "{out:?}");

    // The store removed (as a sandbox's is), its namespace holder ends too.
    if let Some(daemon) = user.daemon_pid() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(daemon),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    std::fs::remove_dir_all(user.store()).unwrap();
    let gone = (0..150).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        user.pids().is_empty()
    });
    assert!(gone, "left running: {:?}", user.pids());
}

/// `RUN apt-get install` as a rootless user: apt's sandbox drops to the
/// `_apt` user, which only a subordinate id can be. The Debian base is
/// made by a root whale of the test's own (mmdebstrap, the host's apt
/// sources) and handed over as a docker-archive.
#[test]
fn a_rootless_build_runs_apt_get_install() {
    if !Path::new("/usr/bin/mmdebstrap").exists() {
        eprintln!("skipped: mmdebstrap is not installed (apt-get install mmdebstrap)");
        return;
    }
    let Some(user) = RootlessUser::create() else {
        return;
    };
    let archive = user.out_dir().join("debian.tar");
    {
        let root_whale = whale_e2e::World::new();
        root_whale
            .whale_timeout(&["bootstrap", "debian"], Duration::from_secs(600))
            .success();
        root_whale.whale_ok(&["save", "-o", archive.to_str().unwrap(), "debian:bookworm"]);
    }
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    user.whale_ok(&["load", "-i", archive.to_str().unwrap()]);
    let ctx = user.out_dir().join("apt");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM debian:bookworm\n\
         RUN apt-get update && apt-get install -y --no-install-recommends sl\n",
    )
    .unwrap();
    let out = user.whale(&["build", "-t", "with-sl", ctx.to_str().unwrap()]);
    assert!(out.ok(), "{out:?}");
    let out = user.whale_ok(&["run", "--rm", "with-sl", "ls", "/usr/games/sl"]);
    assert_eq!(out.stdout.trim(), "/usr/games/sl");
}
