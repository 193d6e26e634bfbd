//! Shared harness for the daemon's integration tests (included with
//! `#[path]`/`mod` from each `daemon_*.rs` file): a daemon in its own temp
//! root, and a small HTTP client over its Unix socket (curl).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHILD_ROOT: &str = "WHALE_TEST_DAEMON_ROOT";
pub const CHILD_SOCK: &str = "WHALE_TEST_DAEMON_SOCK";

/// In the child process, run the daemon (the test binary re-executed with
/// this test's name); in a normal test run, do nothing.
pub fn child_main() {
    let (Some(root), Some(sock)) = (std::env::var_os(CHILD_ROOT), std::env::var_os(CHILD_SOCK))
    else {
        return;
    };
    let cfg = whale::api::DaemonConfig {
        root: PathBuf::from(root),
        socket: PathBuf::from(sock),
        insecure_registries: Vec::new(),
    };
    if let Err(e) = whale::api::run_daemon(cfg) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub sock: PathBuf,
    pub child: Option<Child>,
}

/// Start the daemon by re-running this test binary's `child_test` test.
pub fn spawn_child(root: &Path, sock: &Path, child_test: &str) -> Child {
    let log = root.parent().unwrap_or(root).join("daemon.err");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    spawn_child_with(root, sock, child_test, stderr)
}

/// Like [`spawn_child`], with the daemon's stderr where the caller wants it.
pub fn spawn_child_with(root: &Path, sock: &Path, child_test: &str, stderr: Stdio) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([child_test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROOT, root)
        .env(CHILD_SOCK, sock)
        // The daemon runs inside the test binary; shims must be the real whale.
        .env(
            "WHALE_SHIM_BIN",
            std::env::var_os("WHALE_SHIM_BIN")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_whale").into()),
        )
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawning the daemon")
}

impl Daemon {
    pub fn start(child_test: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let sock = dir.path().join("run").join("whale.sock");
        let child = spawn_child(&root, &sock, child_test);
        let mut d = Daemon {
            dir,
            root,
            sock,
            child: Some(child),
        };
        d.wait_ready();
        d
    }

    pub fn restart(&mut self, child_test: &str) {
        self.child = Some(spawn_child(&self.root, &self.sock, child_test));
        self.wait_ready();
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.sock.exists() && self.get("/_ping").status == 200 {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("daemon exited early: {st}");
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("daemon did not answer /_ping on {}", self.sock.display());
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Stop with SIGTERM and return the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        c.wait().expect("waiting for the daemon")
    }

    /// Kill with SIGKILL (the daemon gets no chance to clean up).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn req(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        curl(&self.sock, method, path, body, &[])
    }
    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, None)
    }
    pub fn post(&self, path: &str, body: Option<&str>) -> Resp {
        self.req("POST", path, body)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn message(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn curl(sock: &Path, method: &str, path: &str, body: Option<&str>, extra: &[&str]) -> Resp {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--max-time", "30", "--unix-socket"])
        .arg(sock)
        .args(["-X", method]);
    if method == "HEAD" {
        cmd.arg("-I");
    }
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    cmd.args(extra);
    cmd.arg(format!("http://localhost{path}"));
    let out = cmd.output().expect("running curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_response(&text).unwrap_or(Resp {
        status: 0,
        headers: vec![],
        body: format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    })
}

fn parse_response(mut text: &str) -> Option<Resp> {
    // curl shows the interim `100 Continue` of a large upload first.
    while text.starts_with("HTTP/1.1 100") {
        text = text.split_once("\r\n\r\n")?.1;
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Resp {
        status,
        headers,
        body: body.to_string(),
    })
}

/// The `whale` CLI against this daemon.
pub fn whale(d: &Daemon, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_whale"))
        .arg("-H")
        .arg(&d.sock)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running whale")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
