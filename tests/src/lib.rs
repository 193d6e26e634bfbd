//! Test harness for whale's end-to-end tests (see `tests/tests/*.rs`).
//!
//! Every test builds its own [`World`]: a fresh directory on a real
//! filesystem (overlayfs needs one for upper dirs), a root dir and a daemon
//! socket inside it, and a daemon started for that root only. Every `whale`
//! invocation gets `WHALE_ROOT` and `WHALE_HOST` pointing there, so tests run
//! in parallel and never touch `/var/lib/whale` or `/run/whale`.
//!
//! Dropping a `World` (also while a test panics) removes every container,
//! stops the daemon, kills whatever process still belongs to the root,
//! detaches leftover mounts, removes leftover cgroups and deletes the
//! directory. A test that did not panic then fails if the engine itself left
//! something behind: a mount in the host's namespace, or, after `rm -f`, a
//! cgroup or a process.

pub mod dockerd;
pub mod registry;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Default limit for one `whale` invocation: a hung engine must fail the
/// test, not hang CI.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The stock Docker CLI, if installed (`/usr/local/bin/docker` on these machines).
pub fn docker_cli() -> Option<PathBuf> {
    let candidates = ["/usr/local/bin/docker", "/usr/bin/docker"];
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// The workspace root (the parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The `whale` binary under test: `WHALE_BIN` if set, else the workspace's
/// own build of it, brought up to date once per test process.
///
/// `cargo test --workspace` does not build another package's binary before
/// running this crate's tests, so the harness runs `cargo build -p whale`
/// itself (cargo does not hold its build lock while tests run). That also
/// keeps `cargo test -p whale-e2e` honest after an edit in `runtime/`.
pub fn whale_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(find_or_build_whale) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn find_or_build_whale() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("WHALE_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "WHALE_BIN={} is not a file: unset it to test the workspace's build, or point it at a built whale binary",
                bin.display()
            ))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "-p",
        "whale",
        "--bin",
        "whale",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    cmd.current_dir(workspace_dir());
    let out = cmd.output().map_err(|e| {
        format!(
            "could not run `{} build -p whale` to build the binary under test: {e}; build it yourself and set WHALE_BIN=/path/to/whale",
            Path::new(&cargo).display()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "`cargo build -p whale --bin whale` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "whale" {
            if let Some(exe) = msg["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    Err(format!(
        "`cargo build -p whale --bin whale` succeeded but named no `whale` executable; build it and set WHALE_BIN. cargo said:\n{}",
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The result of one command, with everything needed to explain a failure.
#[derive(Debug, Clone)]
pub struct Out {
    /// The full command line, as a shell would show it.
    pub cmd: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Out {
    /// Exit code, or None when killed by a signal or timed out.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn ok(&self) -> bool {
        !self.timed_out && self.code() == Some(0)
    }

    /// Panics, showing the command and its output, unless it exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(self.ok(), "expected success:\n{self}");
        self
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert!(
            !self.timed_out && self.code() == Some(code),
            "expected exit code {code}:\n{self}"
        );
        self
    }

    /// Stdout without surrounding whitespace.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    /// Non-empty stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.timed_out {
            format!("TIMED OUT after {:?}", self.elapsed)
        } else {
            match self.status {
                Some(s) => format!("{s}"),
                None => "did not run".to_string(),
            }
        };
        write!(
            f,
            "  $ {}\n  -> {status} in {:?}\n  --- stdout ---\n{}\n  --- stderr ---\n{}",
            self.cmd,
            self.elapsed,
            indent(&self.stdout),
            indent(&self.stderr)
        )
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  | {l}\n")).collect()
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Shows a command the way a shell would run it, environment included.
pub fn show_command(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            v.map(|v| {
                format!(
                    "{}={}",
                    k.to_string_lossy(),
                    shell_quote(&v.to_string_lossy())
                )
            })
        })
        .collect();
    parts.push(shell_quote(&cmd.get_program().to_string_lossy()));
    parts.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Runs `cmd` to completion (or until `timeout`, then SIGKILL), feeding it
/// `stdin` (closed when None) and capturing stdout and stderr.
pub fn run_command(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Out {
    let shown = show_command(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Out {
                cmd: shown,
                status: None,
                stdout: String::new(),
                stderr: format!("could not start: {e}"),
                timed_out: false,
                elapsed: start.elapsed(),
            }
        }
    };
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            // A container that never reads its stdin closes the pipe: EPIPE is fine.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let stdout = child.stdout.take().map(reader_thread);
    let stderr = child.stderr.take().map(reader_thread);
    let mut timed_out = false;
    let mut pause = Duration::from_micros(500);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let collect = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Out {
        cmd: shown,
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
        timed_out,
        elapsed,
    }
}

fn reader_thread(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// One HTTP response read from the daemon's socket.
#[derive(Debug, Clone)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "response body is not JSON ({e}): status {} body {:?}",
                self.status,
                self.text()
            ),
        }
    }
}

/// A plain HTTP/1.1 request over a Unix socket (`Connection: close`), the
/// way `curl --unix-socket` sends it.
pub fn http_unix(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<Http> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_http(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not an HTTP response: {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(300)])
            ),
        )
    })
}

fn parse_http(raw: &[u8]) -> Option<Http> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Http {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
}

/// A mount point from /proc/self/mountinfo, octal escapes decoded.
#[derive(Debug, Clone)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub line: String,
}

pub fn mountinfo() -> Vec<MountEntry> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount_point = unescape_mount(fields.get(4)?);
            let dash = fields.iter().position(|f| *f == "-")?;
            let fs_type = fields.get(dash + 1)?.to_string();
            Some(MountEntry {
                mount_point: PathBuf::from(mount_point),
                fs_type,
                line: line.to_string(),
            })
        })
        .collect()
}

fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lines of /proc/mounts (this process's mount namespace, the host's) that
/// mention `needle`.
pub fn proc_mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Host PIDs whose command line mentions `dir` as a path (or a path inside
/// it), or whose environment has `WHALE_ROOT` set to it.
pub fn pids_using(dir: &Path) -> Vec<i32> {
    let dir_s = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || pid == 1 {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let in_cmdline = cmdline
            .split(|b| *b == 0)
            .any(|arg| mentions_path(&String::from_utf8_lossy(arg), &dir_s));
        let in_env = environ.split(|b| *b == 0).any(|kv| {
            String::from_utf8_lossy(kv)
                .strip_prefix("WHALE_ROOT=")
                .is_some_and(|v| mentions_path(v, &dir_s))
        });
        if in_cmdline || in_env {
            pids.push(pid);
        }
    }
    pids
}

fn mentions_path(text: &str, dir: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find(dir) {
        let after = &rest[i + dir.len()..];
        if after.is_empty() || after.starts_with('/') {
            return true;
        }
        rest = after;
    }
    false
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie has no further effect on cleanup: count it as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The cgroup directories of a host process, one per hierarchy, as host
/// paths (`/sys/fs/cgroup/pids/whale/<id>` on v1, `/sys/fs/cgroup/<path>` on v2).
pub fn cgroup_dirs_of(pid: i32) -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mounts = mountinfo();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            // cgroup v2 (the unified hierarchy, wherever it is mounted).
            if let Some(m) = mounts.iter().find(|m| m.fs_type == "cgroup2") {
                out.push(("unified".to_string(), m.mount_point.join(path)));
            }
            continue;
        }
        let base = Path::new("/sys/fs/cgroup").join(controllers.replace("name=", ""));
        let base = if base.exists() {
            base
        } else {
            match controllers.split(',').next() {
                Some(first) => Path::new("/sys/fs/cgroup").join(first),
                None => continue,
            }
        };
        out.push((controllers.to_string(), base.join(path)));
    }
    out
}

/// Every cgroup directory (any hierarchy) whose name contains one of `ids`.
pub fn cgroup_dirs_named(ids: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if ids.is_empty() {
        return found;
    }
    let mut roots: BTreeSet<PathBuf> = BTreeSet::new();
    for m in mountinfo() {
        if m.fs_type == "cgroup" || m.fs_type == "cgroup2" {
            roots.insert(m.mount_point);
        }
    }
    for root in roots {
        walk_cgroups(&root, 0, ids, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

fn walk_cgroups(dir: &Path, depth: usize, ids: &[String], found: &mut Vec<PathBuf>) {
    if depth > 5 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        if !ft.is_dir() || ft.is_symlink() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if ids.iter().any(|id| name.contains(id.as_str())) {
            found.push(entry.path());
        }
        walk_cgroups(&entry.path(), depth + 1, ids, found);
    }
}

/// A private whale installation for one test.
pub struct World {
    /// The temp dir holding everything (`/var/tmp/whXXXXXX`).
    base: PathBuf,
    /// `WHALE_ROOT` (`<base>/r`, short: shim socket paths live under it and
    /// a Unix socket path must fit in 108 bytes).
    root: PathBuf,
    /// The daemon socket (`<base>/whale.sock`).
    socket: PathBuf,
    daemon: Mutex<Option<Child>>,
    bootstrapped: Mutex<bool>,
    /// Set once torn down, so Drop does nothing more.
    destroyed: bool,
}

impl World {
    /// A new world with its daemon running and answering `/_ping`.
    #[track_caller]
    pub fn new() -> World {
        let world = World::without_daemon();
        world.start_daemon();
        world
    }

    /// A new world with a daemon running and `busybox:latest` bootstrapped.
    #[track_caller]
    pub fn with_busybox() -> World {
        let world = World::new();
        world.bootstrap_busybox();
        world
    }

    /// A new, empty world; nothing is started.
    #[track_caller]
    pub fn without_daemon() -> World {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the end-to-end tests run real containers: run them as root (sudo -E cargo test --workspace)"
        );
        // Build (or find) the binary first: a build failure should not leave a dir behind.
        whale_bin();
        let parent = Path::new("/var/tmp");
        let dir = tempfile::Builder::new()
            .prefix("wh")
            .tempdir_in(parent)
            .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", parent.display()));
        // Keep the dir ourselves: Drop must first unmount and kill, then delete.
        let base = dir.keep();
        let root = base.join("r");
        if let Err(e) = std::fs::create_dir(&root) {
            panic!("cannot create {}: {e}", root.display());
        }
        let fs = nix::sys::statfs::statfs(&base)
            .map(|s| s.filesystem_type())
            .ok();
        if let Some(t) = fs {
            let bad = [
                nix::sys::statfs::TMPFS_MAGIC,
                nix::sys::statfs::OVERLAYFS_SUPER_MAGIC,
            ];
            assert!(
                !bad.contains(&t),
                "{} is on tmpfs or overlayfs: overlay upper dirs need a real filesystem (ext4, xfs, btrfs)",
                base.display()
            );
        }
        World {
            socket: base.join("whale.sock"),
            root,
            base,
            daemon: Mutex::new(None),
            bootstrapped: Mutex::new(false),
            destroyed: false,
        }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn socket(&self) -> &Path {
        &self.socket
    }
    /// `unix:///...`, as `WHALE_HOST` and `DOCKER_HOST` take it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
    pub fn daemon_log(&self) -> PathBuf {
        self.base.join("daemon.log")
    }

    /// A `whale` command with this world's environment.
    pub fn whale_command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(whale_bin());
        cmd.args(args)
            .env("WHALE_ROOT", &self.root)
            .env("WHALE_HOST", self.host())
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST");
        cmd
    }

    /// Runs `whale ARGS...` (stdin closed), waits at most [`DEFAULT_TIMEOUT`].
    pub fn whale<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        run_command(self.whale_command(args), None, DEFAULT_TIMEOUT)
    }

    /// Runs `whale ARGS...` and panics unless it exits 0.
    #[track_caller]
    pub fn whale_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        self.whale(args).success()
    }

    /// Runs `whale ARGS...` with `input` on a pipe as its stdin.
    pub fn whale_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &str) -> Out {
        run_command(
            self.whale_command(args),
            Some(input.as_bytes()),
            DEFAULT_TIMEOUT,
        )
    }

    pub fn whale_timeout<S: AsRef<OsStr>>(&self, args: &[S], timeout: Duration) -> Out {
        run_command(self.whale_command(args), None, timeout)
    }

    /// `docker ARGS...` with `DOCKER_HOST` pointing at this world's daemon;
    /// None when the stock Docker CLI is not installed.
    pub fn docker<S: AsRef<OsStr>>(&self, args: &[S]) -> Option<Out> {
        let bin = docker_cli()?;
        let mut cmd = Command::new(bin);
        let config = self.base.join("docker-config");
        let _ = std::fs::create_dir_all(&config);
        cmd.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION");
        Some(run_command(cmd, None, DEFAULT_TIMEOUT))
    }

    /// Starts `whale daemon --root R -H S` and waits until it answers `/_ping`.
    #[track_caller]
    pub fn start_daemon(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.daemon_log())
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.daemon_log().display()));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup the daemon log fd: {e}"));
        let mut cmd = self.whale_command(&[
            OsStr::new("daemon"),
            OsStr::new("--root"),
            self.root.as_os_str(),
            OsStr::new("-H"),
            OsStr::new(&self.host()),
        ]);
        let shown = show_command(&cmd);
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the daemon: `{shown}`: {e}"));
        let pid = child.id();
        let previous = self
            .daemon
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(child);
        if let Some(mut old) = previous {
            let _ = old.kill();
            let _ = old.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.ping() {
                return;
            }
            let exited = self
                .daemon
                .lock()
                .ok()
                .and_then(|mut d| d.as_mut().and_then(|c| c.try_wait().ok().flatten()));
            if let Some(status) = exited {
                panic!(
                    "the daemon exited ({status}) before answering /_ping:\n  $ {shown}\n{}",
                    indent(&self.daemon_log_tail(60))
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "the daemon (pid {pid}) did not answer GET /_ping on {} within 15 s:\n  $ {shown}\n{}",
                    self.socket.display(),
                    indent(&self.daemon_log_tail(60))
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when the socket answers `GET /_ping` with 200 `OK`.
    pub fn ping(&self) -> bool {
        match http_unix(&self.socket, "GET", "/_ping", None) {
            Ok(r) => r.status == 200 && r.text().trim() == "OK",
            Err(_) => false,
        }
    }

    /// A raw API request to this world's daemon.
    #[track_caller]
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> Http {
        http_unix(&self.socket, method, path, body).unwrap_or_else(|e| {
            panic!(
                "{method} {path} on {}: {e}\n{}",
                self.socket.display(),
                indent(&self.daemon_log_tail(40))
            )
        })
    }

    /// PIDs of every `whale daemon` serving this root (the one we started,
    /// and any the CLI started on its own).
    pub fn daemon_pids(&self) -> Vec<i32> {
        pids_using(&self.base)
            .into_iter()
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                args.get(1).is_some_and(|a| *a != b"shim")
                    && args.iter().skip(1).any(|a| *a == b"daemon")
                    && pid_alive(*pid)
            })
            .collect()
    }

    /// `kill -9` every daemon of this world (containers must survive it).
    #[track_caller]
    pub fn kill_daemon(&self) -> Vec<i32> {
        let pids = self.daemon_pids();
        assert!(
            !pids.is_empty(),
            "no daemon process found for {}",
            self.root.display()
        );
        for &pid in &pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Ok(mut slot) = self.daemon.lock() {
            if let Some(mut child) = slot.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|p| pid_alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        pids
    }

    /// `whale bootstrap busybox`, once per world.
    #[track_caller]
    pub fn bootstrap_busybox(&self) {
        let mut done = self.bootstrapped.lock().unwrap_or_else(|e| e.into_inner());
        if !*done {
            self.whale_timeout(&["bootstrap", "busybox"], Duration::from_secs(120))
                .success();
            *done = true;
        }
    }

    /// `whale inspect NAME`, the first (only) element of its JSON array.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.whale_ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("`whale inspect {name}` printed no JSON ({e}):\n{out}"));
        match v {
            serde_json::Value::Array(mut a) if a.len() == 1 => a.remove(0),
            other => {
                panic!("`whale inspect {name}` should print a one-element array, got: {other}")
            }
        }
    }

    /// `whale run -d ARGS...` (the `-d` is added), returning the printed id.
    #[track_caller]
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut full = vec!["run", "-d"];
        full.extend_from_slice(args);
        let out = self.whale_ok(&full);
        let id = out.out().to_string();
        assert!(
            is_hex(&id, 64),
            "`whale run -d` should print the 64-hex id and nothing else:\n{out}"
        );
        id
    }

    /// The line of `whale ps` (`ps -a` when `all`) whose NAMES column is `name`.
    #[track_caller]
    pub fn ps_line(&self, all: bool, name: &str) -> Option<String> {
        let args: &[&str] = if all { &["ps", "-a"] } else { &["ps"] };
        let out = self.whale_ok(args);
        out.lines()
            .into_iter()
            .skip(1)
            .find(|l| l.split_whitespace().last() == Some(name))
            .map(str::to_string)
    }

    /// Waits (up to 15 s) until `whale top NAME` shows a process whose
    /// command line contains `needle`: proof that the container's init got
    /// past its set-up (for instance installed its signal traps).
    #[track_caller]
    pub fn wait_for_top(&self, name: &str, needle: &str) {
        let found = wait_for(Duration::from_secs(15), || {
            let out = self.whale(&["top", name]);
            (out.ok() && out.stdout.contains(needle)).then_some(())
        });
        if found.is_none() {
            panic!(
                "`whale top {name}` never showed {needle:?}:\n{}",
                self.whale(&["top", name])
            );
        }
    }

    /// `whale inspect -f TEMPLATE NAME`, trimmed.
    #[track_caller]
    pub fn inspect_f(&self, template: &str, name: &str) -> String {
        self.whale_ok(&["inspect", "-f", template, name])
            .out()
            .to_string()
    }

    /// Host PID of a running container's init, from `inspect`.
    #[track_caller]
    pub fn pid_of(&self, name: &str) -> i32 {
        let text = self.inspect_f("{{.State.Pid}}", name);
        match text.parse::<i32>() {
            Ok(p) if p > 1 => p,
            _ => panic!("`whale inspect -f '{{{{.State.Pid}}}}' {name}` should print a host PID > 1, got {text:?}"),
        }
    }

    /// Full ids of the containers on disk under this root.
    pub fn container_ids_on_disk(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.root.join("containers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// Host PIDs named in `containers/*/state.json` (`pid`, `shim_pid`) that
    /// still exist and still belong to that container.
    pub fn state_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for id in self.container_ids_on_disk() {
            let state = self.root.join("containers").join(&id).join("state.json");
            let Ok(text) = std::fs::read_to_string(&state) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for key in ["pid", "shim_pid"] {
                let Some(pid) = v[key].as_i64().map(|p| p as i32) else {
                    continue;
                };
                if pid <= 1 || !pid_alive(pid) {
                    continue;
                }
                // A recycled PID would belong to someone else: only take it
                // if it is in the container's cgroup or mentions our root.
                let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
                if cg.contains(&id) || pids_using(&self.base).contains(&pid) {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// Lines of the host's /proc/mounts that mention this world's dir.
    pub fn host_mounts(&self) -> Vec<String> {
        proc_mounts_mentioning(&self.base.to_string_lossy())
    }

    /// Panics if the host's mount table mentions this world's dir: the
    /// engine mounts a container's rootfs only inside its own namespace.
    #[track_caller]
    pub fn assert_no_host_mounts(&self) {
        let m = self.host_mounts();
        assert!(
            m.is_empty(),
            "the host's /proc/mounts mentions {}:\n{}",
            self.base.display(),
            m.join("\n")
        );
    }

    /// Panics unless the container `id` left nothing behind: no cgroup dir,
    /// no process in state.json, no host mount.
    #[track_caller]
    pub fn assert_container_gone(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let cgroups = cgroup_dirs_named(&[id.to_string()]);
            let dir_exists = self.root.join("containers").join(id).exists();
            let mounts = self.host_mounts();
            if cgroups.is_empty() && !dir_exists && mounts.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "container {id} left something behind:\n  cgroups: {cgroups:?}\n  container dir exists: {dir_exists}\n  host mounts: {mounts:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last `lines` lines of the daemon's log.
    pub fn daemon_log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.daemon_log()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines);
        format!(
            "--- last lines of {} ---\n{}",
            self.daemon_log().display(),
            all[from..].join("\n")
        )
    }

    fn shim_logs(&self) -> String {
        let mut out = String::new();
        for id in self.container_ids_on_disk() {
            let p = self.root.join("containers").join(&id).join("shim.log");
            if let Ok(t) = std::fs::read_to_string(&p) {
                if !t.trim().is_empty() {
                    out.push_str(&format!("--- {} ---\n{}\n", p.display(), t.trim_end()));
                }
            }
        }
        out
    }

    /// Processes that belong to this world other than its daemons.
    fn stray_processes(&self) -> Vec<i32> {
        let daemons = self.daemon_pids();
        let mut pids: Vec<i32> = pids_using(&self.base)
            .into_iter()
            .chain(self.state_pids())
            .filter(|p| !daemons.contains(p) && pid_alive(*p))
            .collect();
        pids.sort();
        pids.dedup();
        pids
    }

    fn describe(pid: i32) -> String {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let shown: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        format!("{pid} {}", shown.join(" "))
    }

    /// Tears the world down now (what Drop does) and returns what the
    /// engine left behind instead of panicking about it.
    pub fn destroy(mut self) -> Vec<String> {
        self.destroyed = true;
        self.cleanup()
    }

    fn cleanup(&mut self) -> Vec<String> {
        let mut problems = Vec::new();

        // 1. The host namespace must never see a container's mounts.
        let leaked = self.host_mounts();
        if !leaked.is_empty() {
            problems.push(format!(
                "mounts in the host namespace under {}:\n{}",
                self.base.display(),
                leaked.join("\n")
            ));
        }

        // 2. Remove every container the way a user would; rm must leave
        //    no cgroup and no process behind.
        let ids = self.container_ids_on_disk();
        if !ids.is_empty() && self.ping() {
            let mut args = vec!["rm".to_string(), "-f".to_string()];
            args.extend(ids.iter().cloned());
            let out = self.whale_timeout(&args, Duration::from_secs(30));
            if !out.ok() {
                problems.push(format!("cleanup `whale rm -f` failed:\n{out}"));
            } else {
                let deadline = Instant::now() + Duration::from_secs(3);
                loop {
                    let cgroups = cgroup_dirs_named(&ids);
                    let strays = self.stray_processes();
                    if cgroups.is_empty() && strays.is_empty() {
                        break;
                    }
                    if Instant::now() > deadline {
                        problems.push(format!(
                            "after `whale rm -f` of every container: cgroups left {cgroups:?}, processes left {:?}",
                            strays.iter().map(|p| World::describe(*p)).collect::<Vec<_>>()
                        ));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }

        // 3. Stop the daemons: SIGTERM, then SIGKILL.
        let daemons = self.daemon_pids();
        for &pid in &daemons {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while daemons.iter().any(|p| pid_alive(*p)) && Instant::now() < deadline {
            if let Ok(mut slot) = self.daemon.lock() {
                if let Some(c) = slot.as_mut() {
                    let _ = c.try_wait();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(mut slot) = self.daemon.lock() {
            if let Some(mut child) = slot.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        // 4. Kill whatever still belongs to this world: shims, inits, and
        //    anything left in the containers' cgroups.
        let all_ids = self.container_ids_on_disk();
        let mut ids_union: Vec<String> = ids.clone();
        ids_union.extend(all_ids);
        ids_union.sort();
        ids_union.dedup();
        let cgroups = cgroup_dirs_named(&ids_union);
        for _round in 0..50 {
            let mut pids: Vec<i32> = pids_using(&self.base);
            pids.extend(self.state_pids());
            for cg in &cgroups {
                let procs = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
            let me = std::process::id() as i32;
            pids.retain(|p| *p > 1 && *p != me && pid_alive(*p));
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        // 5. Detach leftover mounts, deepest first.
        let mut mounts: Vec<PathBuf> = mountinfo()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| p.starts_with(&self.base))
            .collect();
        mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for m in mounts {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }

        // 6. Remove leftover cgroups, deepest first (a dir with live
        //    processes cannot be removed: retry while they die).
        let mut cgroups = cgroup_dirs_named(&ids_union);
        cgroups.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for cg in &cgroups {
            for _ in 0..50 {
                if std::fs::remove_dir(cg).is_ok() || !cg.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        // 7. Delete the world.
        if let Err(e) = std::fs::remove_dir_all(&self.base) {
            problems.push(format!("cannot remove {}: {e}", self.base.display()));
        }
        problems
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.destroyed {
            return;
        }
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!(
                "test failed; whale world {}:\n{}\n{}",
                self.base.display(),
                self.daemon_log_tail(40),
                self.shim_logs()
            );
        }
        let problems = self.cleanup();
        if !problems.is_empty() {
            let msg = format!(
                "whale left things behind in {} (cleaned up now):\n{}",
                self.base.display(),
                problems.join("\n")
            );
            if panicking {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

/// True when `s` is `n` lowercase hex digits.
pub fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// Splits a table line on runs of 2+ spaces, as Docker's tabwriter pads it.
pub fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_http() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        let r = parse_http(raw).expect("a response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), "[1,2]");
    }

    #[test]
    fn parses_plain_http() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n{\"a\":\"b c\"}\n";
        let r = parse_http(raw).expect("a response");
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["a"], "b c");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_http(b"hello").is_none());
    }

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_mount(r"/a\040b"), "/a b");
        assert_eq!(unescape_mount(r"/plain"), "/plain");
        assert_eq!(unescape_mount(r"/end\"), r"/end\");
    }

    #[test]
    fn path_mentions_need_a_boundary() {
        assert!(mentions_path("/var/tmp/whAB/r", "/var/tmp/whAB"));
        assert!(mentions_path("--root=/var/tmp/whAB", "/var/tmp/whAB"));
        assert!(!mentions_path("/var/tmp/whABC", "/var/tmp/whAB"));
    }

    #[test]
    fn table_columns() {
        assert_eq!(
            columns("busybox      latest    abc123   2 seconds ago   1.2MB"),
            vec!["busybox", "latest", "abc123", "2 seconds ago", "1.2MB"]
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("sh"), "sh");
        assert_eq!(shell_quote("echo $$"), "'echo $$'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn timeouts_kill() {
        let mut c = Command::new("sleep");
        c.arg("10");
        let out = run_command(c, None, Duration::from_millis(100));
        assert!(out.timed_out);
        assert!(!out.ok());
    }

    #[test]
    fn stdin_is_fed() {
        let out = run_command(Command::new("cat"), Some(b"hi\n"), DEFAULT_TIMEOUT);
        assert_eq!(out.success().stdout, "hi\n");
    }
}
