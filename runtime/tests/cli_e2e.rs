//! End-to-end tests of the `whale` CLI against a live engine.
//!
//! The engine is, in order: the socket in `WHALE_TEST_HOST` (any Docker
//! Engine API: real dockerd or whale; tests then name their containers with
//! a unique prefix and remove only those), else a `whale daemon` each test
//! starts on its own temp root and socket. When neither can be had (not
//! root, or a build without the daemon), the tests say so and pass.
//!
//! Containers always use `--network none`, which both engines accept.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const WHALE: &str = env!("CARGO_BIN_EXE_whale");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// An engine for one test, and what to clean up after it.
struct Engine {
    host: String,
    /// Our own daemon, its temp dir (None when the engine is external).
    own: Option<(Child, PathBuf)>,
    /// Prefix of every container name this test makes.
    prefix: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    format!(
        "clitest{}x{}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        tag
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn whale_raw(host: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut cmd = Command::new(WHALE);
    cmd.arg("-H")
        .arg(host)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("spawn whale");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("whale {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Out::from(child.wait_with_output().expect("whale output"))
}

impl Engine {
    /// An engine, or None (after saying why) when there is none to test against.
    fn get() -> Option<Engine> {
        if let Ok(host) = std::env::var("WHALE_TEST_HOST") {
            let out = whale_raw(&host, &["version"], None);
            assert_eq!(
                out.code, 0,
                "WHALE_TEST_HOST={host} does not answer:\n{out}"
            );
            let engine = Engine {
                host,
                own: None,
                prefix: unique(""),
            };
            engine.ensure_busybox();
            return Some(engine);
        }
        if !is_root() {
            eprintln!(
                "skipped: the CLI tests need root to run a whale daemon (or set WHALE_TEST_HOST)"
            );
            return None;
        }
        let dir = tempdir();
        let socket = dir.join("s.sock");
        let log = std::fs::File::create(dir.join("daemon.log")).expect("daemon log");
        let mut child = Command::new(WHALE)
            .arg("daemon")
            .arg("--root")
            .arg(dir.join("r"))
            .arg("-H")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn whale daemon");
        let host = format!("unix://{}", socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
                let _ = std::fs::remove_dir_all(&dir);
                eprintln!("skipped: `whale daemon` exited ({status}); no engine to test the CLI against (set WHALE_TEST_HOST to use another one):\n{log}");
                return None;
            }
            if socket.exists() && whale_raw(&host, &["version"], None).code == 0 {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("whale daemon did not answer on {host} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let engine = Engine {
            host,
            own: Some((child, dir)),
            prefix: unique(""),
        };
        engine.ensure_busybox();
        Some(engine)
    }

    fn whale(&self, args: &[&str]) -> Out {
        whale_raw(&self.host, args, None)
    }

    fn whale_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        whale_raw(&self.host, args, Some(input))
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Out {
        let out = self.whale(args);
        assert_eq!(out.code, 0, "whale {args:?} failed:\n{out}");
        out
    }

    fn name(&self, tag: &str) -> String {
        format!("{}{tag}", self.prefix)
    }

    fn ensure_busybox(&self) {
        let have = self.whale(&["images", "-q", "busybox:latest"]);
        if have.code == 0 && !have.stdout.trim().is_empty() {
            return;
        }
        let out = self.whale(&["bootstrap", "busybox"]);
        assert_eq!(out.code, 0, "bootstrap busybox:\n{out}");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let mine = self.whale(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]);
        for line in mine.lines() {
            if let Some((id, name)) = line.split_once(' ') {
                if self.own.is_some() || name.starts_with(&self.prefix) {
                    let _ = self.whale(&["rm", "-f", id]);
                }
            }
        }
        if let Some((mut child, dir)) = self.own.take() {
            // SIGTERM first: the daemon cleans up; then make sure it is gone.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
            if !mounts.contains(dir.to_string_lossy().as_ref()) {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}

/// A temp dir on a real filesystem (overlay upper dirs cannot be on tmpfs).
fn tempdir() -> PathBuf {
    let dir = PathBuf::from("/var/tmp").join(unique("d"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

macro_rules! engine {
    () => {
        match Engine::get() {
            Some(e) => e,
            None => return,
        }
    };
}

#[test]
fn run_returns_the_containers_exit_code() {
    let e = engine!();
    let out = e.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "out\n", "{out}");
    assert_eq!(out.stderr, "err\n", "{out}");
    let out = e.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo $$",
    ]);
    assert_eq!(out.stdout.trim(), "1", "PID 1 in the container:\n{out}");
}

#[test]
fn run_exit_codes_follow_docker() {
    let e = engine!();
    let out = e.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "nosuchcommand",
    ]);
    assert_eq!(out.code, 127, "{out}");
    let out = e.whale(&["run", "--rm", "--network", "none", "busybox", "/etc"]);
    assert_eq!(out.code, 126, "{out}");
    let image = format!("{}img", e.prefix);
    let out = e.whale(&["run", "--rm", "--network", "none", &image]);
    assert_eq!(out.code, 125, "{out}");
    assert!(
        out.stderr
            .contains(&format!("Unable to find image '{image}:latest' locally")),
        "{out}"
    );
    assert!(out.stderr.contains("whale bootstrap busybox"), "{out}");
}

#[test]
fn stdin_is_piped_with_i_and_closed_without() {
    let e = engine!();
    let out = e.whale_stdin(
        &["run", "--rm", "-i", "--network", "none", "busybox", "sh"],
        b"echo hi; exit 3\n",
    );
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "hi\n", "{out}");
    let big = vec![b'x'; 1 << 20];
    let out = e.whale_stdin(
        &[
            "run",
            "--rm",
            "-i",
            "--network",
            "none",
            "busybox",
            "busybox",
            "wc",
            "-c",
        ],
        &big,
    );
    assert_eq!(out.stdout.trim(), "1048576", "{out}");
    let started = Instant::now();
    let out = e.whale_stdin(
        &["run", "--rm", "--network", "none", "busybox", "cat"],
        b"ignored\n",
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn detached_container_life_cycle() {
    let e = engine!();
    let name = e.name("sleeper");
    let out = e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = out.stdout.trim().to_string();
    assert!(is_hex(&id, 64), "run -d prints the full id:\n{out}");

    let ps = e.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.ID}} {{.Names}} {{.Status}} {{.Command}}",
    ]);
    let line = ps
        .lines()
        .into_iter()
        .find(|l| l.contains(&name))
        .unwrap_or_default()
        .to_string();
    assert!(line.starts_with(&id[..12]), "{ps}");
    assert!(line.contains(" Up "), "{ps}");
    assert!(line.ends_with("\"sleep 1000\""), "{ps}");

    let top = e.ok(&["top", &name]);
    assert!(top.stdout.contains("sleep 1000"), "{top}");

    e.ok(&["stop", "-t", "1", &name]);
    let status = e.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(status.stdout.starts_with("Exited (137)"), "{status}");
    let wait = e.ok(&["wait", &name]);
    assert_eq!(wait.stdout.trim(), "137", "{wait}");
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Status}}",
            &name
        ])
        .stdout,
        "137 exited\n"
    );

    let rm = e.ok(&["rm", &name]);
    assert_eq!(rm.stdout.trim(), name);
    let gone = e.whale(&["inspect", &name]);
    assert_eq!(gone.code, 1, "{gone}");
    assert_eq!(gone.stdout, "[]\n", "{gone}");
    assert_eq!(
        gone.stderr.trim(),
        format!("Error: No such object: {name}"),
        "{gone}"
    );
}

#[test]
fn daemon_errors_are_worded_like_docker() {
    let e = engine!();
    let name = e.name("nosuch");
    for verb in ["stop", "kill", "rm", "start", "wait", "logs"] {
        let out = e.whale(&[verb, &name]);
        assert_eq!(out.code, 1, "{verb}: {out}");
        assert!(
            out.stderr.starts_with("Error response from daemon: ")
                && out.stderr.to_lowercase().contains("no such container"),
            "{verb}: {out}"
        );
    }
    // A template runs once per row: make sure there is one.
    e.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        &e.name("row"),
        "busybox",
        "true",
    ]);
    let out = e.whale(&["ps", "-a", "--format", "{{.Nope}}"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("can't evaluate field Nope"), "{out}");
    let out = e.whale(&["inspect", "-f", "{{.State.ExitCode", "busybox"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.starts_with("template parsing error: "), "{out}");
}

#[test]
fn formats_and_tables() {
    let e = engine!();
    let name = e.name("fmt");
    let out = e.whale(&[
        "run",
        "--network",
        "none",
        "--name",
        &name,
        "-e",
        "A=1",
        "-l",
        "k=v",
        "busybox",
        "sh",
        "-c",
        "exit 2",
    ]);
    assert_eq!(out.code, 2, "{out}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.ExitCode}}", &name])
            .stdout,
        "2\n"
    );
    assert_eq!(
        e.ok(&["inspect", "-f", "{{json .Config.Cmd}}", &name])
            .stdout,
        "[\"sh\",\"-c\",\"exit 2\"]\n"
    );
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{.Name}} {{index .Config.Labels \"k\"}}",
            &name
        ])
        .stdout,
        format!("/{name} v\n")
    );
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{range .Config.Env}}{{if eq . \"A=1\"}}found{{end}}{{end}}",
            &name
        ])
        .stdout,
        "found\n"
    );
    let json = e.ok(&["inspect", &name]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("inspect prints JSON");
    assert_eq!(v[0]["State"]["ExitCode"], 2);
    assert!(
        json.stdout.starts_with("[\n    {\n        \"Id\": "),
        "indented like docker:\n{json}"
    );

    let both = e.ok(&["inspect", "--format", "{{.Id}}", &name, "busybox"]);
    assert_eq!(both.lines().len(), 2, "{both}");

    let table = e.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "table {{.Names}}\t{{.Status}}",
    ]);
    let lines = table.lines();
    assert!(
        lines[0].starts_with("NAMES") && lines[0].contains("   STATUS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with(&name) && lines[1].contains("Exited (2)"),
        "{table}"
    );

    let ps = e.ok(&["ps", "-a"]);
    let header: Vec<&str> = ps.lines()[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{ps}"
    );
    let images = e.ok(&["images"]);
    assert!(images.lines()[0].starts_with("REPOSITORY"), "{images}");
    assert!(images.stdout.contains("busybox"), "{images}");
    let q = e.ok(&["images", "-q", "busybox"]);
    assert!(q.lines().iter().all(|l| is_hex(l, 12)), "{q}");
}

#[test]
fn create_then_start_attached() {
    let e = engine!();
    let name = e.name("created");
    let id = e.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo from-start; exit 4",
    ]);
    assert!(is_hex(id.stdout.trim(), 64), "{id}");
    let status = e.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(status.stdout.trim(), "Created", "{status}");
    let out = e.whale(&["start", "-a", &name]);
    assert_eq!(out.code, 4, "{out}");
    assert_eq!(out.stdout, "from-start\n", "{out}");
    let logs = e.ok(&["logs", &name]);
    assert_eq!(logs.stdout, "from-start\n", "{logs}");
}

#[test]
fn run_flags_reach_the_container() {
    let e = engine!();
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "65534",
        "-h",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A; pwd; id -u; hostname",
    ]);
    assert_eq!(out.stdout, "1\n/tmp\n65534\nbox\n", "{out}");
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "echo",
        "busybox",
        "a",
        "-n",
        "b",
    ]);
    assert_eq!(out.stdout, "a -n b\n", "{out}");
    let name = e.name("limits");
    e.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        &name,
        "-m",
        "32m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "busybox",
        "true",
    ]);
    let limits = e.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        &name,
    ]);
    assert_eq!(limits.stdout, "33554432 500000000 20\n", "{limits}");
}

#[test]
fn kill_sends_the_signal() {
    let e = engine!();
    let name = e.name("trapper");
    e.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 9' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !e.ok(&["logs", &name]).stdout.contains("ready") {
        assert!(Instant::now() < deadline, "the trap never got set");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(e.ok(&["kill", "-s", "USR1", &name]).stdout.trim(), name);
    assert_eq!(e.ok(&["wait", &name]).stdout.trim(), "9");
    assert!(e.ok(&["logs", &name]).stdout.contains("got-usr1"));
}

#[test]
fn import_tag_and_rmi() {
    let e = engine!();
    // A one-file rootfs: the host's static busybox and a shell link.
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let Some(busybox) = busybox else {
        eprintln!("skipped: no busybox on this machine");
        return;
    };
    let dir = tempdir();
    let tar_path = dir.join("rootfs.tar");
    {
        let file = std::fs::File::create(&tar_path).expect("tar file");
        let mut tar = tar::Builder::new(file);
        tar.append_path_with_name(busybox, "bin/busybox")
            .expect("add busybox");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        tar.append_link(&mut h, "bin/sh", "busybox")
            .expect("add sh");
        tar.finish().expect("finish tar");
    }
    let image = format!("{}mini:v1", e.prefix);
    let out = e.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "from the cli tests",
        tar_path.to_str().unwrap_or_default(),
        &image,
    ]);
    assert!(out.stdout.trim().starts_with("sha256:"), "{out}");
    let run = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        "echo imported",
    ]);
    assert_eq!(run.stdout, "imported\n");
    let cmd = e.ok(&["inspect", "-f", "{{json .Config.Cmd}} {{.Comment}}", &image]);
    assert_eq!(cmd.stdout, "[\"sh\"] from the cli tests\n", "{cmd}");
    let other = format!("{}other", e.prefix);
    e.ok(&["tag", &image, &other]);
    let listed = e.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        listed.stdout.contains(&format!("{other}:latest")),
        "{listed}"
    );
    let rmi = e.ok(&["rmi", &other]);
    assert!(
        rmi.stdout.contains(&format!("Untagged: {other}:latest")),
        "{rmi}"
    );
    let rmi = e.ok(&["rmi", &image]);
    assert!(rmi.stdout.contains("Deleted: sha256:"), "{rmi}");
    let gone = e.whale(&["rmi", &image]);
    assert_eq!(gone.code, 1, "{gone}");
    assert!(
        gone.stderr.starts_with("Error response from daemon: "),
        "{gone}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `whale` with no daemon on its socket starts one, detached from itself.
#[test]
fn the_cli_starts_the_daemon() {
    if std::env::var_os("WHALE_TEST_HOST").is_some() || !is_root() {
        eprintln!("skipped: needs root and its own whale daemon");
        return;
    }
    let dir = tempdir();
    let socket = dir.join("auto.sock");
    let root = dir.join("r");
    let out = Out::from(
        Command::new(WHALE)
            .arg("-H")
            .arg(&socket)
            .arg("--root")
            .arg(&root)
            .args(["ps", "-a"])
            .stdin(Stdio::null())
            .output()
            .expect("run whale"),
    );
    // The daemon, if one started, is the process with our root on its command line.
    let daemons = processes_mentioning(&root);
    for pid in &daemons {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    if out.code != 0 && out.stderr.contains("no daemon linked in") {
        eprintln!("skipped: this build has no daemon:\n{out}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("CONTAINER ID"), "{out}");
    assert_eq!(daemons.len(), 1, "one daemon started: {daemons:?}");
    assert!(
        root.join("daemon.log").exists(),
        "its output goes to <root>/daemon.log"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemons
        .iter()
        .any(|p| Path::new(&format!("/proc/{p}")).exists())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().to_string();
    let mut pids = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(" daemon ") && text.contains(&needle) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// `run -it` on a real terminal: raw mode, the console size, PID 1 a shell,
/// and Ctrl-P Ctrl-Q detaches (exit 0) while the container keeps running.
#[test]
fn tty_session_detaches_and_keeps_running() {
    let e = engine!();
    let name = e.name("tty");
    let mut session = PtySession::spawn(
        &e.host,
        &[
            "run",
            "-it",
            "--network",
            "none",
            "--name",
            &name,
            "busybox",
            "sh",
        ],
    );
    session.wait_for("# ");
    session.type_bytes(b"echo pid=$$; stty size\r");
    session.wait_for("pid=1");
    if e.own.is_some() {
        // (runc on this kernel answers stty's TCGETS with ECHILD, so the
        // size is only checked on whale.)
        session.wait_for("24 80");
    }
    session.type_bytes(&[0x10, 0x11]);
    assert_eq!(session.exit_code(), Some(0), "detaching exits 0");
    let ps = e.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.stdout.starts_with("Up "), "the container runs on:\n{ps}");

    // Back in with `attach`; leaving the shell ends it with its code.
    let mut again = PtySession::spawn(&e.host, &["attach", &name]);
    std::thread::sleep(Duration::from_millis(300));
    again.type_bytes(b"echo back-in; exit 6\r");
    again.wait_for("back-in");
    assert_eq!(
        again.exit_code(),
        Some(6),
        "attach exits with the container"
    );
}

/// A `whale` command on a pseudo-terminal of its own (24 rows, 80 columns).
struct PtySession {
    child: Child,
    master: std::fs::File,
    screen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl PtySession {
    fn spawn(host: &str, args: &[&str]) -> PtySession {
        use std::io::Read;
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&size, None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let child = Command::new(WHALE)
            .arg("-H")
            .arg(host)
            .args(args)
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn whale on a pty");
        let master = std::fs::File::from(pty.master);
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut reader = master.try_clone().expect("dup master");
        let shared = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = shared.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        PtySession {
            child,
            master,
            screen,
        }
    }

    #[track_caller]
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.screen.lock().map(|s| s.clone()).unwrap_or_default();
            if text.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the terminal:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("type on the pty");
    }

    /// Its exit code, waiting at most 10 s.
    #[track_caller]
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let text = self.screen.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("whale did not exit; the terminal shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
