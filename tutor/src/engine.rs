//! Which engine the tutor talks to, and how: a Docker Engine API socket
//! (bollard), plus the engine's command-line client for students' commands
//! and solve scripts. The `whale` binary is only ever run as a subprocess.

use bollard::{ClientVersion, Docker};
use std::path::PathBuf;
use std::time::Duration;

/// API version 1.41 is what dockerd 20.10 speaks; whale accepts any.
pub const API_VERSION: &ClientVersion = &ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Root's whale socket: what the book shows. A normal user's whale listens
/// at [`whale_default_socket`] (rootless).
pub const WHALE_SOCKET: &str = whale_args::DEFAULT_SOCKET;
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unsupported DOCKER_HOST/-H `{0}`: the tutor talks to engines over a Unix socket (unix:///path)")]
    NotUnix(String),
    #[error("the {engine} engine is not reachable at {socket}: {reason}. {how}")]
    Unreachable {
        engine: &'static str,
        socket: String,
        reason: String,
        how: String,
    },
    #[error("cannot find the `whale` binary (next to whaletutor, or on PATH; WHALE_BIN overrides): build it with `cargo build -p whale`")]
    NoWhale,
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    Whale,
    Docker,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Whale => "whale",
            EngineKind::Docker => "docker",
        }
    }
}

/// Where the engine lives. `root` is set only for a sandboxed whale daemon.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    pub socket: PathBuf,
    pub root: Option<PathBuf>,
}

fn strip_unix(host: &str) -> Result<PathBuf, EngineError> {
    if let Some(p) = host.strip_prefix("unix://") {
        return Ok(PathBuf::from(p));
    }
    if host.contains("://") {
        return Err(EngineError::NotUnix(host.to_string()));
    }
    Ok(PathBuf::from(host))
}

impl Engine {
    /// `-H` wins; then DOCKER_HOST (docker) or WHALE_HOST (whale); then the
    /// engine's default socket.
    pub fn select(kind: EngineKind, host: Option<&str>) -> Result<Engine, EngineError> {
        let env = match kind {
            EngineKind::Whale => std::env::var("WHALE_HOST").ok(),
            EngineKind::Docker => std::env::var("DOCKER_HOST").ok(),
        }
        .filter(|s| !s.is_empty());
        let socket = match host.map(str::to_string).or(env) {
            Some(h) => strip_unix(&h)?,
            None => match kind {
                EngineKind::Whale => whale_default_socket(),
                EngineKind::Docker => PathBuf::from(DOCKER_SOCKET),
            },
        };
        let root = match kind {
            EngineKind::Whale => std::env::var_os("WHALE_ROOT").map(PathBuf::from),
            EngineKind::Docker => None,
        };
        Ok(Engine { kind, socket, root })
    }

    /// Whether this engine runs rootless: a whale the tutor reaches as a
    /// normal user is that user's own (whale picks its mode by who runs
    /// it). Of docker only its `/info` knows
    /// ([`crate::requirements::EngineCaps`]).
    pub fn rootless(&self) -> bool {
        self.kind == EngineKind::Whale && whale_args::Mode::current() == whale_args::Mode::Rootless
    }

    /// The command students type: `whale` or `docker`.
    pub fn cli(&self) -> &'static str {
        self.kind.name()
    }

    /// Environment for commands that must reach this same engine.
    pub fn env(&self) -> Vec<(String, String)> {
        let host = format!("unix://{}", self.socket.display());
        match self.kind {
            EngineKind::Whale => {
                let mut v = vec![("WHALE_HOST".to_string(), host)];
                if let Some(r) = &self.root {
                    v.push(("WHALE_ROOT".to_string(), r.display().to_string()));
                }
                v
            }
            EngineKind::Docker => vec![("DOCKER_HOST".to_string(), host)],
        }
    }

    /// PATH with the directory of the `whale` binary first, so `whale` in a
    /// lesson's commands is the one the tutor was built with.
    pub fn path_env(&self) -> Option<String> {
        let whale = whale_bin().ok()?;
        let dir = whale.parent()?;
        let old = std::env::var("PATH").unwrap_or_default();
        Some(format!("{}:{old}", dir.display()))
    }

    pub fn how_to_start(&self) -> String {
        match self.kind {
            EngineKind::Whale => {
                let mut args = String::new();
                if let Some(r) = &self.root {
                    args.push_str(&format!(" --root {}", r.display()));
                }
                if self.socket != whale_default_socket() {
                    args.push_str(&format!(" -H unix://{}", self.socket.display()));
                }
                format!(
                    "Start it with `whale{args} daemon &`, or let any whale command start it: `whale{args} info` (`whaletutor lesson` does that for you)"
                )
            }
            EngineKind::Docker => "Start dockerd (see DEVELOPERS.md: `dockerd --bridge=none --iptables=false --ip-masq=false &`)".to_string(),
        }
    }

    /// One short sentence for a daemon that went away mid-lesson.
    pub fn how_to_restart(&self) -> String {
        match self.kind {
            EngineKind::Whale => {
                "`whale ps` starts it (the tutor tries that itself during a lesson)".to_string()
            }
            EngineKind::Docker => {
                "start dockerd again (`systemctl start docker`, or as in tutor/README.md)"
                    .to_string()
            }
        }
    }

    pub fn client(&self) -> Result<Docker, EngineError> {
        Docker::connect_with_unix(&self.socket.display().to_string(), 30, API_VERSION).map_err(
            |e| EngineError::Unreachable {
                engine: self.kind.name(),
                socket: self.socket.display().to_string(),
                reason: e.to_string(),
                how: self.how_to_start(),
            },
        )
    }

    /// A client that has answered `/_ping`.
    pub async fn connect(&self) -> Result<Docker, EngineError> {
        let d = self.client()?;
        match tokio::time::timeout(Duration::from_secs(5), d.ping()).await {
            Ok(Ok(_)) => Ok(d),
            Ok(Err(e)) => Err(EngineError::Unreachable {
                engine: self.kind.name(),
                socket: self.socket.display().to_string(),
                reason: e.to_string(),
                how: self.how_to_start(),
            }),
            Err(_) => Err(EngineError::Unreachable {
                engine: self.kind.name(),
                socket: self.socket.display().to_string(),
                reason: "no answer to /_ping in 5 s".into(),
                how: self.how_to_start(),
            }),
        }
    }

    /// On whale, make sure a daemon answers: `whale info` starts one when the
    /// socket is absent. On docker the tutor never starts the engine.
    pub async fn ensure_running(&self) -> Result<Docker, EngineError> {
        if let Ok(d) = self.connect().await {
            return Ok(d);
        }
        if self.kind == EngineKind::Docker {
            return self.connect().await;
        }
        self.whale(&["info"])?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.connect().await {
                Ok(d) => return Ok(d),
                Err(e) if std::time::Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Start this whale engine's daemon with `extra` daemon options (the
    /// class registry's `--insecure-registry`), detached as whale's own
    /// auto-start does it (its log in the root dir), and wait until it
    /// answers. Only when none answers yet: a running daemon keeps its options.
    pub async fn start_whale_daemon(&self, extra: &[&str]) -> Result<Docker, EngineError> {
        if let Ok(d) = self.connect().await {
            return Ok(d);
        }
        let bin = whale_bin()?;
        let root = whale_args::root_dir(self.root.clone());
        let shown = format!("whale daemon {}", extra.join(" "));
        let failed = |detail: String| EngineError::Command {
            cmd: shown.clone(),
            detail,
        };
        std::fs::create_dir_all(&root).map_err(|e| failed(format!("{}: {e}", root.display())))?;
        let log_path = root.join("daemon.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| failed(format!("{}: {e}", log_path.display())))?;
        let log2 = log.try_clone().map_err(|e| failed(e.to_string()))?;
        use std::os::unix::process::CommandExt as _;
        let mut child = std::process::Command::new(bin)
            .arg("daemon")
            .arg("--root")
            .arg(&root)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(extra)
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            // A Ctrl-C in the student's terminal must not reach it.
            .process_group(0)
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(d) = self.connect().await {
                // Reaped if it exits while we run; init reaps it after us.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
                return Ok(d);
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(failed(format!(
                    "the daemon exited ({status}); its log: {}",
                    log_path.display()
                )));
            }
            if std::time::Instant::now() > deadline {
                return Err(failed(format!(
                    "no answer on {} within 15 s; its log: {}",
                    self.socket.display(),
                    log_path.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run `whale ARGS` against this engine; returns stdout.
    pub fn whale(&self, args: &[&str]) -> Result<String, EngineError> {
        let bin = whale_bin()?;
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(args).envs(self.env());
        let shown = format!("whale {}", args.join(" "));
        let out = cmd.output().map_err(|e| EngineError::Command {
            cmd: shown.clone(),
            detail: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(EngineError::Command {
                cmd: shown,
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The socket `whale` itself uses when nothing names one: root's
/// `/run/whale/whale.sock`, or a normal user's rootless
/// `$XDG_RUNTIME_DIR/whale/whale.sock` (one rule, in `whale_args`).
pub fn whale_default_socket() -> PathBuf {
    whale_args::default_paths().socket
}

/// The `whale` binary: $WHALE_BIN, else next to this executable, else PATH.
pub fn whale_bin() -> Result<PathBuf, EngineError> {
    if let Some(p) = std::env::var_os("WHALE_BIN").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Ok(me) = std::env::current_exe() {
        let mut dirs = Vec::new();
        if let Some(d) = me.parent() {
            dirs.push(d.to_path_buf());
            // Test binaries live in target/debug/deps.
            if let Some(up) = d.parent() {
                dirs.push(up.to_path_buf());
            }
        }
        for d in dirs {
            let c = d.join("whale");
            if c.is_file() {
                return Ok(c);
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let c = d.join("whale");
        if c.is_file() {
            return Ok(c);
        }
    }
    Err(EngineError::NoWhale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_unix_sockets() {
        assert_eq!(strip_unix("unix:///a/b").unwrap(), PathBuf::from("/a/b"));
        assert_eq!(strip_unix("/a/b").unwrap(), PathBuf::from("/a/b"));
        assert!(strip_unix("tcp://1.2.3.4:2375").is_err());
    }
}
