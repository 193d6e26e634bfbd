//! The shim against the real kernel (root): a throwaway busybox rootfs, a
//! ShimSpec, driven through `whale::shim::client`.
//!
//! Every test owns a temp dir and a cgroup path; the guard's Drop kills a
//! leftover shim and container and removes the cgroup even when an
//! assertion fails, and `assert_clean` checks nothing leaked.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use whale::linux::cgroup;
use whale::shim::client::{self, ShimError};
use whale::shim::protocol::Request;
use whale::shim::spec::{NetworkMode, Resources, ShimSpec};

const APPLETS: &[&str] = &[
    "sh", "echo", "ls", "ps", "hostname", "cat", "sleep", "true", "id", "grep", "touch", "wc",
    "mount", "tty", "stat", "head", "mknod", "stty",
];

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
    lower: PathBuf,
    spec: ShimSpec,
}

fn build_lower(lower: &Path) {
    fs::create_dir_all(lower.join("bin")).unwrap();
    fs::create_dir_all(lower.join("etc")).unwrap();
    for d in ["proc", "sys", "dev", "tmp", "root"] {
        fs::create_dir_all(lower.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
    for a in APPLETS {
        symlink("busybox", lower.join("bin").join(a)).unwrap();
    }
    fs::write(
        lower.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    .unwrap();
    fs::write(lower.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    fs::write(lower.join("etc/data.txt"), "not executable\n").unwrap();
}

impl Fixture {
    fn new(args: &[&str]) -> Fixture {
        // Once, before any test spawns: setenv races with other threads.
        static SET_BIN: std::sync::Once = std::sync::Once::new();
        SET_BIN.call_once(|| std::env::set_var(client::SHIM_BIN_ENV, env!("CARGO_BIN_EXE_whale")));
        let tmp = tempfile::Builder::new()
            .prefix("whale-shim-test")
            .tempdir()
            .unwrap();
        let root = tmp.path().to_path_buf();
        let lower = root.join("lower");
        build_lower(&lower);
        let id: String = format!(
            "{:016x}{:016x}{:032x}",
            std::process::id(),
            rand::random::<u64>(),
            rand::random::<u128>()
        );
        let dir = root.join("containers").join(&id);
        for d in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let spec = ShimSpec {
            id: id.clone(),
            hostname: id[..12].to_string(),
            lower_dirs: vec![lower.clone()],
            upper_dir: dir.join("upper"),
            work_dir: dir.join("work"),
            merged_dir: dir.join("merged"),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cwd: String::new(),
            user: String::new(),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            console_size: None,
            network: NetworkMode::Loopback,
            ports: Vec::new(),
            resources: Resources::default(),
            // One top-level cgroup per test, no shared parent: removing a shared
            // parent in one test's Drop raced another test's mkdir (ENOENT).
            cgroup_path: format!("whale-test-{id}"),
            log_path: dir.join("container.log"),
            no_log: false,
            socket_path: dir.join("shim.sock"),
            state_path: dir.join("state.json"),
            init: None,
            mounts: Vec::new(),
            readonly_rootfs: false,
            seccomp: Default::default(),
            privileges: Default::default(),
        };
        Fixture {
            _tmp: tmp,
            root,
            dir,
            lower,
            spec,
        }
    }

    fn write_spec(&self) {
        fs::write(
            self.dir.join("spec.json"),
            serde_json::to_vec(&self.spec).unwrap(),
        )
        .unwrap();
    }

    /// An attach client for stdout (and stdin, stderr when asked).
    async fn attach(&self, stdin: bool, stderr: bool) -> Result<tokio::net::UnixStream, ShimError> {
        client::connect(
            &self.socket(),
            &Request::Attach {
                stdin,
                stdout: true,
                stderr,
                detach_keys: None,
            },
        )
        .await
    }

    fn socket(&self) -> PathBuf {
        self.spec.socket_path.clone()
    }

    /// Spawn, attach stdout+stderr, start, collect output, wait.
    async fn run(&self) -> Result<Outcome, ShimError> {
        self.write_spec();
        let shim = client::spawn(&self.dir).await?;
        if shim.ready.error.is_some() {
            return shim.start().await.map(|_| unreachable!());
        }
        let attach = self.attach(false, true).await?;
        let wait = client::connect(&self.socket(), &Request::Wait).await?;
        shim.start().await?;
        let (stdout, stderr) = read_frames(attach).await;
        let exit = read_exit(wait).await;
        Ok(Outcome {
            stdout,
            stderr,
            exit_code: exit.exit_code,
            oom_killed: exit.oom_killed,
        })
    }

    /// No mount of ours on the host, no cgroup left, no socket left.
    fn assert_clean(&self) {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let root = self.root.to_string_lossy();
        assert!(
            !mounts.contains(root.as_ref()),
            "a mount under {root} leaked to the host"
        );
        let cg = cgroup::Cgroup::for_container(&self.spec.cgroup_path).unwrap();
        for (_, d) in &cg.dirs {
            assert!(!d.exists(), "cgroup {} left behind", d.display());
        }
        assert!(!self.socket().exists(), "socket left behind");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Whatever happened, leave nothing running or mounted.
        if let Ok(text) = fs::read_to_string(self.dir.join("state.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                for key in ["pid", "shim_pid"] {
                    if let Some(pid) = v[key].as_i64().filter(|p| *p > 0) {
                        let _ = std::process::Command::new("kill")
                            .args(["-9", &pid.to_string()])
                            .status();
                    }
                }
            }
        }
        let _ = cgroup::remove_container_cgroup(&self.spec.cgroup_path);
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let root = self.root.to_string_lossy().to_string();
        for line in mounts.lines().rev() {
            if let Some(target) = line.split_whitespace().nth(1) {
                if target.starts_with(&root) {
                    let _ = std::process::Command::new("umount")
                        .args(["-l", target])
                        .status();
                }
            }
        }
    }
}

#[derive(Debug)]
struct Outcome {
    stdout: String,
    stderr: String,
    exit_code: i32,
    oom_killed: bool,
}

async fn read_frames(mut s: tokio::net::UnixStream) -> (String, String) {
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i + 8 <= all.len() {
        let len = u32::from_be_bytes([all[i + 4], all[i + 5], all[i + 6], all[i + 7]]) as usize;
        let body = &all[i + 8..i + 8 + len];
        match all[i] {
            1 => out.extend_from_slice(body),
            2 => err.extend_from_slice(body),
            t => panic!("bad stream type {t}"),
        }
        i += 8 + len;
    }
    assert_eq!(i, all.len(), "truncated frame");
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

async fn read_exit(mut s: tokio::net::UnixStream) -> whale::shim::protocol::Exit {
    let mut line = String::new();
    s.read_to_string(&mut line).await.unwrap();
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("bad exit line {line:?}: {e}"))
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

#[tokio::test]
async fn pid1_hostname_loopback_only_and_caps() {
    require_root!();
    let f = Fixture::new(&sh(
        "echo $$; hostname; ls /sys/class/net; grep CapBnd /proc/self/status; \
         cat /etc/hostname; wc -c < /proc/timer_list; touch /proc/sys/x 2>/dev/null || echo ro; \
         mknod /tmp/mem c 1 1 && head -c1 /tmp/mem 2>/dev/null || echo denied; \
         ls /dev; ps -o pid,comm; grep -E '^(Cap|NoNewPrivs)' /proc/self/status",
    ));
    let o = f.run().await.unwrap();
    assert_eq!(o.exit_code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "1", "{o:?}");
    assert_eq!(lines[1], f.spec.hostname);
    assert_eq!(lines[2], "lo");
    assert_eq!(lines[3], "CapBnd:\t00000000a80425fb");
    assert_eq!(lines[4], f.spec.hostname);
    assert_eq!(lines[5].trim(), "0", "timer_list must be masked");
    assert_eq!(lines[6], "ro", "/proc/sys must be read-only");
    assert_eq!(
        lines[7], "denied",
        "the devices cgroup must refuse /dev/mem"
    );
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
    ] {
        assert!(
            o.stdout.lines().any(|l| l == dev),
            "/dev/{dev} missing: {o:?}"
        );
    }
    // Docker's default set (runc >= 1.1.2: nothing inheritable), no_new_privs.
    for want in [
        "CapInh:\t0000000000000000",
        "CapPrm:\t00000000a80425fb",
        "CapEff:\t00000000a80425fb",
        "CapAmb:\t0000000000000000",
        "NoNewPrivs:\t1",
    ] {
        assert!(o.stdout.lines().any(|l| l == want), "{want} missing: {o:?}");
    }
    // ps shows only the container's own processes.
    let ps: Vec<&str> = o
        .stdout
        .lines()
        .skip_while(|l| !l.contains("PID"))
        .take_while(|l| !l.starts_with("Cap"))
        .collect();
    assert_eq!(ps.len(), 3, "only sh and ps: {ps:?}");
    assert_eq!(ps[1].split_whitespace().collect::<Vec<_>>(), ["1", "sh"]);
    assert!(ps[2].ends_with(" ps"), "{ps:?}");
    let log = fs::read_to_string(&f.spec.log_path).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["log"], "1\n");
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    f.assert_clean();
}

#[tokio::test]
async fn exit_code_stderr_and_log() {
    require_root!();
    let f = Fixture::new(&sh("echo out; echo err >&2; exit 3"));
    let o = f.run().await.unwrap();
    assert_eq!((o.exit_code, o.oom_killed), (3, false));
    assert_eq!(o.stdout, "out\n");
    assert_eq!(o.stderr, "err\n");
    let log: Vec<serde_json::Value> = fs::read_to_string(&f.spec.log_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), 2);
    let streams: Vec<(&str, &str)> = log
        .iter()
        .map(|v| (v["log"].as_str().unwrap(), v["stream"].as_str().unwrap()))
        .collect();
    assert!(streams.contains(&("out\n", "stdout")), "{streams:?}");
    assert!(streams.contains(&("err\n", "stderr")), "{streams:?}");
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&f.spec.state_path).unwrap()).unwrap();
    assert_eq!(state["status"], "exited");
    assert_eq!(state["exit_code"], 3);
    assert_eq!(state["pid"], 0);
    f.assert_clean();
    // `run --rm`: the daemon deletes the container dir as soon as it has
    // the Exit, while the namespace may still be going away.
    fs::remove_dir_all(&f.dir).unwrap();
}

#[tokio::test]
async fn missing_command_is_127_and_non_executable_126() {
    require_root!();
    let f = Fixture::new(&["nosuchcmd"]);
    match f.run().await {
        Err(e @ ShimError::Exec { .. }) => {
            assert_eq!(e.exit_code(), 127);
            assert_eq!(
                e.to_string(),
                "exec: \"nosuchcmd\": executable file not found in $PATH"
            );
        }
        other => panic!("expected exec error, got {other:?}"),
    }
    f.assert_clean();
    assert!(
        !f.spec.state_path.exists(),
        "a container that never ran has no state"
    );

    let f = Fixture::new(&["/etc/data.txt"]);
    let e = f.run().await.unwrap_err();
    assert_eq!(e.exit_code(), 126, "{e}");
    assert!(e.to_string().contains("permission denied"), "{e}");
    f.assert_clean();

    let f = Fixture::new(&["/no/such/file"]);
    let e = f.run().await.unwrap_err();
    assert_eq!(e.exit_code(), 127, "{e}");
    f.assert_clean();
}

#[tokio::test]
async fn sh_without_stdin_exits_at_once() {
    require_root!();
    let f = Fixture::new(&["sh"]);
    let o = tokio::time::timeout(Duration::from_secs(10), f.run())
        .await
        .expect("sh with /dev/null stdin must exit at once")
        .unwrap();
    assert_eq!(o.exit_code, 0);
    f.assert_clean();
}

#[tokio::test]
async fn signal_kill_is_137_and_status_reports_running() {
    require_root!();
    let f = Fixture::new(&["sleep", "1000"]);
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let pid = shim.ready.pid;
    assert!(pid > 0);
    shim.start().await.unwrap();
    let st = client::status(&f.socket()).await.unwrap();
    assert!(st.running);
    assert_eq!(st.pid, pid);
    // On the host the command has another PID than 1.
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let wait = tokio::spawn({
        let s = f.socket();
        async move { client::wait(&s).await }
    });
    // Running is recorded once the container has lived a few ms.
    let mut state = serde_json::Value::Null;
    for _ in 0..200 {
        if let Ok(text) = fs::read_to_string(&f.spec.state_path) {
            state = serde_json::from_str(&text).unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["pid"], pid);
    // SIGTERM is ignored by a PID 1 without a handler, as in Docker.
    client::signal(&f.socket(), 9).await.unwrap();
    let exit = wait.await.unwrap().unwrap();
    assert_eq!(exit.exit_code, 137);
    assert!(!exit.oom_killed);
    assert!(matches!(
        client::status(&f.socket()).await,
        Err(ShimError::NotRunning { .. })
    ));
    // Late waiters get the recorded exit.
    let late = client::wait_or_recorded(&f.socket(), &f.spec.state_path)
        .await
        .unwrap();
    assert_eq!(late, exit);
    f.assert_clean();
}

#[tokio::test]
async fn memory_limit_oom_kill_is_reported() {
    require_root!();
    let mut f = Fixture::new(&sh("x=a; while true; do x=$x$x; done"));
    f.spec.resources.memory = Some(32 << 20);
    let o = tokio::time::timeout(Duration::from_secs(60), f.run())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.exit_code, 137, "{o:?}");
    assert!(o.oom_killed, "{o:?}");
    f.assert_clean();
}

#[tokio::test]
async fn limits_are_written_to_the_cgroup() {
    require_root!();
    let mut f = Fixture::new(&sh(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; \
         grep -vc ':/$' /proc/self/cgroup; touch /sys/fs/cgroup/x 2>/dev/null || echo ro",
    ));
    f.spec.resources = Resources {
        memory: Some(64 << 20),
        memory_swap: None,
        nano_cpus: Some(500_000_000),
        cpu_shares: None,
        pids_limit: Some(50),
        ..Default::default()
    };
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let cg = cgroup::Cgroup::for_container(&f.spec.cgroup_path).unwrap();
    let read = |c: &str, file: &str| {
        let d = &cg.dirs.iter().find(|(n, _)| n == c).unwrap().1;
        fs::read_to_string(d.join(file)).unwrap().trim().to_string()
    };
    if cg.version == cgroup::Version::V1 {
        assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("pids", "pids.max"), "50");
    }
    // The init is already in its cgroup, waiting for start.
    let pids = cgroup::container_pids(&f.spec.cgroup_path).unwrap();
    assert_eq!(pids, vec![shim.ready.pid]);
    let attach = f.attach(false, true).await.unwrap();
    let wait = client::connect(&f.socket(), &Request::Wait).await.unwrap();
    shim.start().await.unwrap();
    let (out, err) = read_frames(attach).await;
    let exit = read_exit(wait).await;
    // Seen through its cgroup namespace: its own cgroup is the root, and
    // /sys/fs/cgroup shows its own limits, read-only.
    if cg.version == cgroup::Version::V1 {
        assert_eq!(out, "67108864\n50\n0\nro\n", "stderr: {err}");
    }
    // grep -c exits 1 when it counts 0 lines, and so does the script.
    assert_eq!(exit.exit_code, 0);
    f.assert_clean();
}

#[tokio::test]
async fn stdin_is_piped_and_closed_with_stdin_once() {
    require_root!();
    let mut f = Fixture::new(&["sh"]);
    f.spec.open_stdin = true;
    f.spec.stdin_once = true;
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let mut attach = f.attach(true, true).await.unwrap();
    let wait = client::connect(&f.socket(), &Request::Wait).await.unwrap();
    shim.start().await.unwrap();
    attach.write_all(b"echo hi; exit 3\n").await.unwrap();
    attach.shutdown().await.unwrap();
    let (out, _) = read_frames(attach).await;
    assert_eq!(out, "hi\n");
    assert_eq!(read_exit(wait).await.exit_code, 3);
    f.assert_clean();

    let mut f = Fixture::new(&sh("cat; exit 3"));
    f.spec.open_stdin = true;
    f.spec.stdin_once = true;
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let mut attach = f.attach(true, false).await.unwrap();
    let wait = client::connect(&f.socket(), &Request::Wait).await.unwrap();
    shim.start().await.unwrap();
    let big = vec![b'x'; 300_000];
    attach.write_all(&big).await.unwrap();
    attach.shutdown().await.unwrap();
    let (out, _) = read_frames(attach).await;
    assert_eq!(out.len(), big.len());
    assert_eq!(read_exit(wait).await.exit_code, 3);
    f.assert_clean();
}

#[tokio::test]
async fn writes_land_in_upper_not_lower() {
    require_root!();
    let f = Fixture::new(&sh(
        "echo data > /created; rm /etc/data.txt; cat /etc/hosts",
    ));
    let o = f.run().await.unwrap();
    assert_eq!(o.exit_code, 0, "{o:?}");
    assert!(o.stdout.contains("127.0.0.1\tlocalhost"), "{o:?}");
    assert_eq!(
        fs::read_to_string(f.spec.upper_dir.join("created")).unwrap(),
        "data\n"
    );
    assert!(!f.lower.join("created").exists());
    assert!(
        f.lower.join("etc/data.txt").exists(),
        "lower must be untouched"
    );
    // The deletion is a whiteout in upper.
    let wh = fs::symlink_metadata(f.spec.upper_dir.join("etc/data.txt")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(wh.file_type().is_char_device());
    f.assert_clean();
}

#[tokio::test]
async fn tty_output_is_raw() {
    require_root!();
    let mut f = Fixture::new(&sh("tty; echo hi; ls /dev/console"));
    f.spec.tty = true;
    f.spec.console_size = Some((30, 100));
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let mut attach = f.attach(false, true).await.unwrap();
    let wait = client::connect(&f.socket(), &Request::Wait).await.unwrap();
    shim.start().await.unwrap();
    let mut out = Vec::new();
    attach.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("hi\r\n"), "{out:?}");
    // The pty comes from the container's own devpts, as with runc.
    assert!(out.starts_with("/dev/pts/0\r\n"), "{out:?}");
    assert_eq!(read_exit(wait).await.exit_code, 0);
    f.assert_clean();
}

#[tokio::test]
async fn user_switch_and_host_network() {
    require_root!();
    let mut f = Fixture::new(&sh(
        "id -u; id -g; grep CapEff /proc/self/status; ls /sys/class/net | wc -l",
    ));
    f.spec.user = "nobody".into();
    f.spec.network = NetworkMode::Host;
    let o = f.run().await.unwrap();
    assert_eq!(o.exit_code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "65534");
    assert_eq!(lines[1], "65534");
    assert_eq!(lines[2], "CapEff:\t0000000000000000");
    let host_ifaces = fs::read_dir("/sys/class/net").unwrap().count();
    assert_eq!(lines[3], host_ifaces.to_string());
    f.assert_clean();

    let mut f = Fixture::new(&["true"]);
    f.spec.user = "ghost".into();
    let e = f.run().await.unwrap_err();
    assert!(e.to_string().contains("unable to find user ghost"), "{e}");
    f.assert_clean();
}

#[tokio::test]
async fn shim_survives_its_parent_and_outlives_the_client() {
    require_root!();
    let f = Fixture::new(&["sleep", "1000"]);
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let shim_pid = shim.ready.shim_pid;
    shim.start().await.unwrap();
    // The shim is a session leader re-parented away from us.
    let stat = fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap();
    let after_comm = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    assert_ne!(
        fields[1],
        std::process::id().to_string(),
        "shim must not be our child"
    );
    assert_eq!(
        fields[3],
        shim_pid.to_string(),
        "shim must lead its session"
    );
    client::signal(&f.socket(), 9).await.unwrap();
    let exit = client::wait(&f.socket()).await;
    // The socket may be gone already if the exit raced the connect.
    if let Ok(exit) = exit {
        assert_eq!(exit.exit_code, 137);
    }
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{shim_pid}")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f.assert_clean();
}

#[tokio::test]
async fn tty_stdin_and_detach_keys() {
    require_root!();
    let mut f = Fixture::new(&["sh"]);
    f.spec.tty = true;
    f.spec.open_stdin = true;
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let mut attach = f.attach(true, true).await.unwrap();
    shim.start().await.unwrap();
    client::resize(&f.socket(), 40, 120).await.unwrap();
    attach
        .write_all(b"stty size; echo $((6*7))\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("42\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), attach.read(&mut chunk))
            .await
            .expect("no echo from the tty")
            .unwrap();
        assert!(
            n > 0,
            "stream closed early: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("40 120"),
        "{seen:?}"
    );
    // Ctrl-P Ctrl-Q: the attach ends, the container keeps running.
    attach.write_all(&[0x10, 0x11]).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), attach.read_to_end(&mut rest))
        .await
        .expect("detach must close the stream")
        .unwrap();
    let st = client::status(&f.socket()).await.unwrap();
    assert!(st.running);
    assert_eq!(st.attached, 0);
    let wait = client::connect(&f.socket(), &Request::Wait).await.unwrap();
    client::signal(&f.socket(), 9).await.unwrap();
    assert_eq!(read_exit(wait).await.exit_code, 137);
    f.assert_clean();
}

#[tokio::test]
async fn many_layers_mount_through_relative_paths() {
    require_root!();
    let mut f = Fixture::new(&sh("cat /who; ls / | grep -c '^layer'"));
    // 60 layers with 64-hex names: ~6 KB of absolute lowerdir options,
    // more than a page, so the shim must fall back to relative paths.
    let layers = f.root.join("layers");
    let mut lowers = Vec::new();
    for i in 0..60 {
        let d = layers.join(format!("{:064x}", 0xabc000 + i));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(format!("layer{i}")), "").unwrap();
        fs::write(d.join("who"), format!("layer {i}\n")).unwrap();
        lowers.push(d);
    }
    lowers.push(f.lower.clone()); // busybox at the bottom
                                  // Even relative to their common parent these exceed a page: the shim
                                  // must use its short layer links.
    let total: usize = lowers
        .iter()
        .map(|p| p.strip_prefix(&f.root).unwrap().as_os_str().len() + 1)
        .sum();
    assert!(total > 4096, "the test must exceed a page ({total})");
    f.spec.lower_dirs = lowers;
    let o = f.run().await.unwrap();
    assert_eq!(o.exit_code, 0, "{o:?}");
    assert_eq!(o.stdout, "layer 0\n60\n", "top-most layer first");
    f.assert_clean();
}

#[tokio::test]
async fn pids_limit_stops_forks() {
    require_root!();
    let script = "i=0; while [ $i -lt 8 ]; do sleep 1 & i=$((i+1)); done; echo forked";
    // Control: without a limit, eight background jobs start fine.
    let f = Fixture::new(&sh(script));
    let o = f.run().await.unwrap();
    assert_eq!((o.stdout.as_str(), o.exit_code), ("forked\n", 0), "{o:?}");
    f.assert_clean();

    let mut f = Fixture::new(&sh(script));
    f.spec.resources.pids_limit = Some(4);
    let o = f.run().await.unwrap();
    assert!(o.stderr.contains("can't fork"), "{o:?}");
    assert_eq!(o.stdout, "", "{o:?}");
    assert_ne!(o.exit_code, 0);
    f.assert_clean();
}

#[tokio::test]
async fn a_dead_shims_container_is_cleaned_up_by_remove_container_cgroup() {
    require_root!();
    let f = Fixture::new(&["sleep", "1000"]);
    f.write_spec();
    let shim = client::spawn(&f.dir).await.unwrap();
    let (pid, shim_pid) = (shim.ready.pid, shim.ready.shim_pid);
    shim.start().await.unwrap();
    assert_eq!(
        cgroup::container_pids(&f.spec.cgroup_path).unwrap(),
        vec![pid]
    );
    // The shim dies hard: nobody records the exit or removes the cgroup.
    std::process::Command::new("kill")
        .args(["-9", &shim_pid.to_string()])
        .status()
        .unwrap();
    cgroup::remove_container_cgroup(&f.spec.cgroup_path).unwrap();
    for _ in 0..200 {
        let alive = fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "init still alive: {stat}"
    );
    assert!(cgroup::container_pids(&f.spec.cgroup_path).is_err());
    // The stale socket is the daemon's to delete with the container dir.
    let _ = fs::remove_file(f.socket());
    f.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_containers_at_once() {
    require_root!();
    let fixtures: Vec<Fixture> = (0..20)
        .map(|i| Fixture::new(&sh(&format!("echo {i}"))))
        .collect();
    let runs = fixtures.iter().map(|f| f.run());
    let outcomes = futures_util::future::join_all(runs).await;
    for (i, (o, f)) in outcomes.into_iter().zip(&fixtures).enumerate() {
        let o = o.unwrap();
        assert_eq!((o.stdout, o.exit_code), (format!("{i}\n"), 0));
        f.assert_clean();
    }
}

#[tokio::test]
async fn megabytes_of_output_reach_the_client_and_the_log() {
    require_root!();
    let f = Fixture::new(&sh(
        "s=x; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do s=$s$s; done; \
         i=0; while [ $i -lt 1000 ]; do echo $s; i=$((i+1)); done",
    ));
    let o = f.run().await.unwrap();
    assert_eq!(o.exit_code, 0);
    assert_eq!(o.stdout.len(), 1000 * 4097);
    assert!(o.stdout.lines().all(|l| l.len() == 4096));
    let log = fs::read_to_string(&f.spec.log_path).unwrap();
    assert_eq!(log.lines().count(), 1000);
    f.assert_clean();
}

#[tokio::test]
async fn a_container_can_be_started_again() {
    require_root!();
    let f = Fixture::new(&sh(
        "echo start; cat /count 2>/dev/null; echo run >> /count",
    ));
    let first = f.run().await.unwrap();
    assert_eq!((first.stdout.as_str(), first.exit_code), ("start\n", 0));
    f.assert_clean();
    // Same upper dir: the second run sees what the first one wrote.
    let second = f.run().await.unwrap();
    assert_eq!(
        (second.stdout.as_str(), second.exit_code),
        ("start\nrun\n", 0)
    );
    f.assert_clean();
    // The log keeps both runs, as Docker's json-file does.
    let log = fs::read_to_string(&f.spec.log_path).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
}
